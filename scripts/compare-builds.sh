#!/usr/bin/env bash
# Plays the same load against one build's server and reports throughput, latency and
# CPU per receipt of the server and of the load generator separately, so that builds
# can be compared on a noisy machine: run builds alternately, several times each.
#
#   scripts/compare-builds.sh BINARY DATABASE MEMBERS SECONDS [tessera bench flags...]
#
# BINARY is a `tessera` release binary; DATABASE a SQLite file made by `tessera bench
# --database FILE` with MEMBERS members (checkpointed: the copy leaves its WAL
# behind). The file is copied first, so every run starts from the same state.
# DATABASE may instead be a postgres:// URL of a database loaded the same way: it is
# used as it is (runs add to it), and the CPU that the database's processes on this
# machine used is reported beside the server's, per receipt and by process kind
# (backends, WAL writer, checkpointer, ...).
# Extra flags go to `tessera bench` (for example `--rate 800 --concurrency 64` for an
# open loop). With WRITER_LOAD=1 the server logs the SQLite writer's load once a
# second (busy share, time in COMMIT, WAL restarts) and the WAL syncs (count, average,
# longest) into the printed server log. The server's CPU per receipt is also given per
# thread (HTTP workers, writer, sync, checkpointer), with its context switches per
# receipt (voluntary: a thread slept and was woken), also per thread.
# SERVER_LOG sets the server's RUST_LOG instead (e.g. info,tessera_sqlite=debug);
# KEEP_LOG=FILE keeps the server's whole log there. WARMUP=SECONDS plays the same load
# that long first, unmeasured: on PostgreSQL a fresh server's first second opens its
# pool's connections and prepares their statements, which can be most of a 20 s run's
# p99. Every figure printed is taken after it. BENCH_BIN=BINARY plays the load with
# another build's `tessera bench` (by default BINARY's own), so that server builds are
# compared under one load generator.
set -euo pipefail
bin=${1:?binary}; db=${2:?database}; members=${3:?members}; seconds=${4:?seconds}
shift 4
work=$(mktemp -d)
port=18080
trap 'kill "$server" 2>/dev/null || true; [ -n "${KEEP_LOG:-}" ] && cp "$work/serve.log" "$KEEP_LOG"; rm -rf "$work"' EXIT
case "$db" in
  postgres://* | postgresql://*) url=$db ;;
  *)
    cp "$db" "$work/db"
    # Written out now, not by the first checkpoint: a copy left in the page cache made
    # the first group after the start wait some 300 ms for its sync.
    sync "$work/db"
    url="sqlite://$work/db"
    ;;
esac
log=info
[ "${WRITER_LOAD:-0}" = 1 ] && log=info,tessera_sqlite::writer_load=debug,tessera_sqlite::sync_load=debug
RUST_LOG=${SERVER_LOG:-$log} "$bin" serve --database "$url" --listen "127.0.0.1:$port" \
  --insecure-dev --redeem-burst 0 --key-rate 0 >"$work/serve.log" 2>&1 &
server=$!
"$(dirname "$0")/wait-for-server.sh" "$port"
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
if [ "${WARMUP:-0}" -gt 0 ]; then
  "${BENCH_BIN:-$bin}" bench --target "http://127.0.0.1:$port" --token insecure-dev --members "$members" \
    --promotions 0 --seconds "$WARMUP" --report "$work/warmup.json" "$@" >/dev/null 2>&1
fi
# CPU ticks of each of the server's threads, by name (tokio workers summed).
# Context switches of all the server's threads: voluntary (a thread went to sleep:
# waiting for work, a lock or the disk) and involuntary (preempted).
switches() {
  cat /proc/"$server"/task/*/status |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v, n}'
}
# Voluntary context switches of each of the server's threads, by name.
thread_switches() {
  for task in /proc/"$server"/task/*; do
    printf '%s %s\n' "$(tr ' ' '_' <"$task/comm")" "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status")"
  done | awk '{t[$1] += $2} END {for (n in t) print n, t[n]}' | sort
}
threads() {
  for task in /proc/"$server"/task/*; do
    printf '%s %s\n' "$(tr ' ' '_' <"$task/comm")" "$(awk '{print $14 + $15}' "$task/stat")"
  done | awk '{t[$1] += $2} END {for (n in t) print n, t[n]}' | sort
}
# CPU ticks of the database's processes, by kind ("backend" for client connections;
# nothing for SQLite).
database() {
  case "$url" in postgres*) ;; *) return 0 ;; esac
  for pid in $(pgrep -x postgres); do
    kind=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed -E 's/^postgres: //; s/ +$//')
    case "$kind" in
      *\(*\)* | *\[local\]*) kind=backend ;;
      /*) kind=postmaster ;;
      *) kind=$(echo "$kind" | tr ' ' '_') ;;
    esac
    printf '%s %s\n' "$kind" "$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)"
  done | awk '{t[$1] += $2} END {for (n in t) print n, t[n]}' | sort
}
before=$(cpu)
threads_before=$(threads)
switches_before=$(switches)
thread_switches_before=$(thread_switches)
database_before=$(database)
/usr/bin/time -f "load generator CPU: %U s user, %S s system" "${BENCH_BIN:-$bin}" bench \
  --target "http://127.0.0.1:$port" --token insecure-dev --members "$members" \
  --promotions 0 --seconds "$seconds" --report "$work/report.json" "$@" 2>&1 |
  grep -E "receipts/s|^call|^calculate|^commit|load generator|started late"
after=$(cpu)
threads_after=$(threads)
switches_after=$(switches)
thread_switches_after=$(thread_switches)
database_after=$(database)
receipts=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['receipts'])" "$work/report.json")
ticks=$(getconf CLK_TCK)
python3 -c "import sys; t=(int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3]); print(f'server CPU: {t:.1f} s, {t*1e6/int(sys.argv[4]):.0f} us per receipt')" \
  "$before" "$after" "$ticks" "$receipts"
# The same per thread: where the server's CPU goes (HTTP workers, the SQLite writer,
# its sync thread, the checkpointer).
join <(echo "$threads_before") <(echo "$threads_after") |
  awk -v hz="$ticks" -v n="$receipts" '{printf "%s%s %.0f us", (NR > 1 ? ", " : "server CPU per receipt by thread: "), $1, ($3 - $2) * 1e6 / hz / n} END {print ""}'
python3 -c "import sys; b=sys.argv[1].split(); a=sys.argv[2].split(); n=int(sys.argv[3]); print(f'server context switches per receipt: {(int(a[0])-int(b[0]))/n:.1f} voluntary, {(int(a[1])-int(b[1]))/n:.1f} involuntary')" \
  "$switches_before" "$switches_after" "$receipts"
join <(echo "$thread_switches_before") <(echo "$thread_switches_after") |
  awk -v n="$receipts" '{printf "%s%s %.2f", (NR > 1 ? ", " : "voluntary switches per receipt by thread: "), $1, ($3 - $2) / n} END {print ""}'
# The database's CPU (PostgreSQL): backends that started or ended during the run
# count only with what they had at both ends.
if [ -n "$database_after" ]; then
  join <(echo "$database_before") <(echo "$database_after") |
    awk -v hz="$ticks" -v n="$receipts" '{d = ($3 - $2) * 1e6 / hz / n; all += d; parts = parts sprintf("%s%s %.0f us", (NR > 1 ? ", " : ""), $1, d)} END {printf "database CPU per receipt: %.0f us (%s)\n", all, parts}'
fi
[ "${WRITER_LOAD:-0}" = 1 ] && grep -E "writer load|sync load" "$work/serve.log" | sed 's/^.*DEBUG //' || true
