#!/usr/bin/env bash
# Counts the server's CPU instructions per receipt (calculate + commit) under a fixed,
# slow load: a figure that does not move with the VM's noise, for comparing builds.
#
#   scripts/instructions-per-receipt.sh BINARY DATABASE [MEMBERS]
#
# BINARY is a `tessera` release binary; DATABASE a SQLite file made by `tessera bench
# --database FILE` (or `tessera demo`) with MEMBERS members (default 100000). The file
# is copied, so runs start from the same state. The server runs under valgrind's
# callgrind; `tessera bench` offers 8 receipts a second for 30 s (seed 7) from a second
# process. Needs valgrind (Debian package `valgrind`).
set -euo pipefail
bin=${1:?binary}; db=${2:?database}; members=${3:-100000}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$db" "$work/db"
port=18181
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" serve \
  --database "sqlite://$work/db" --listen "127.0.0.1:$port" --insecure-dev \
  --redeem-burst 0 --key-rate 0 >"$work/serve.log" 2>&1 &
server=$!
"$(dirname "$0")/wait-for-server.sh" "$port"
callgrind_control -z "$server" >/dev/null 2>&1
"$bin" bench --target "http://127.0.0.1:$port" --token insecure-dev --members "$members" \
  --promotions 0 --seconds 30 --rate 8 --concurrency 4 --seed 7 \
  --report "$work/report.json" >"$work/bench.log" 2>&1
callgrind_control -d "$server" >/dev/null 2>&1
sleep 2
receipts=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['receipts'])" "$work/report.json")
total=$(callgrind_annotate "$work/cg.out.1" 2>/dev/null | grep -m1 "PROGRAM TOTALS" | awk '{print $1}' | tr -d ,)
echo "receipts $receipts, instructions $total, per receipt $((total / receipts))"
