#!/usr/bin/env bash
# Waits until a `tessera serve --insecure-dev` on 127.0.0.1:PORT answers, at most
# SECONDS (default 180). Used by the measuring scripts beside it.
#
#   scripts/wait-for-server.sh PORT [SECONDS]
set -euo pipefail
port=${1:?port}; seconds=${2:-180}
for _ in $(seq 1 "$seconds"); do
  curl -sf -o /dev/null -H "Authorization: Bearer insecure-dev" \
    "http://127.0.0.1:$port/v1/program" && exit 0
  sleep 1
done
echo "no server answered on port $port within $seconds s" >&2
exit 1
