#!/usr/bin/env bash
# Sluice benchmark: direct MariaDB vs HAProxy (TCP) vs a minimal Node relay vs Sluice (multiplexing on/off),
# plus 1000 clients through Sluice against max_connections=100 and an idle-connection memory test.
#
#   npm run bench                 # builds, then runs this
#   BENCH_QUICK=1 npm run bench   # 3 s per run, threads 1 and 16 only
#   bash bench/run.sh             # without building (dist/ must be current)
#   BENCH_SPLIT=1 bash bench/run.sh   # instead: the read/write splitting benchmark (bench/split.mjs)
#
# Environment (all optional):
#   BENCH_TIME=10            seconds per sysbench run (BENCH_QUICK=1: 3)
#   BENCH_QUICK=1            short runs, threads {1,16}
#   BENCH_PS_MODE=auto       sysbench --db-ps-mode (auto = server-side prepared statements, disable = text protocol)
#   BENCH_WARMUP=2           warm-up seconds per target before the matrix (0 = none; quick: 1)
#   BENCH_ROUNDS=1           interleaved rounds per matrix cell (medians reported, rounds listed); 3 is
#                            steadier on a noisy machine and takes 3× as long for the matrix
#   BENCH_WORKLOADS=a,b      default oltp_point_select,oltp_read_only
#   BENCH_THREADS=1,16,64    thread counts
#   BENCH_TARGETS=...        subset of direct,haproxy,node-relay,sluice,sluice-nopoll,sluice-nomux (default all of
#                            these), plus sluice-nopipe (pool.pipelining off) when named; sluice-nopoll is sluice with
#                            tuning.busy_poll_us: 0; sluice-base (with BENCH_BASE_DIR) is sluice run from another build
#   BENCH_BASE_DIR=dir       a built checkout of another commit (git worktree add dir <commit>; npm ci && npm run
#                            build there) for the sluice-base target: an A/B of two builds, interleaved round by round
#   BENCH_BIG_THREADS=1000   client threads of the max_connections test
#   BENCH_IDLE_CONNS=5000    idle connections of the memory test
#   BENCH_SKIP=big,mem       skip the 1000-thread and/or memory test
#   BENCH_HAPROXY_THREADS=1  haproxy nbthread (0 = haproxy's default, one per core)
#   BENCH_STRICT=1           exit 3 when any run failed
#
# BENCH_SPLIT=1 runs bench/split.mjs instead: a primary + 2 replicas, sysbench oltp_read_only and oltp_read_write
# (plus their --skip_trx=on variants) at threads {1,16} against direct / sluice-nosplit / split-eventual /
# split-session, with each server's share of the statements. It honours BENCH_TIME, BENCH_QUICK, BENCH_PS_MODE,
# BENCH_WARMUP, BENCH_STRICT, and BENCH_WORKLOADS (e.g. oltp_read_only,oltp_read_write+skip_trx), BENCH_THREADS,
# BENCH_TARGETS (subset of direct,sluice-nosplit,split-eventual,split-session) with split defaults.
# Output: bench/results/<timestamp>-split.md (+ .json, .logs/).
#
# Output: a markdown report on stdout and in bench/results/<timestamp>.md (+ .json, + .logs/ with every
# sysbench output and the proxies' logs).
#
# Cleanup: bench/bench.mjs tears down everything it started by pid. As a last resort (driver killed hard),
# this script kills what the driver recorded in $BENCH_TMP/pids, by pid, and only if the process's command
# line still contains the recorded marker (so a recycled pid is never hit). Never by name.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SPLIT="${BENCH_SPLIT:-0}"
DRIVER=bench/bench.mjs
[ "$SPLIT" = 1 ] && DRIVER=bench/split.mjs

# 5000 idle client connections (client side + Sluice side) need file descriptors.
if ! ulimit -n 20000 2>/dev/null && [ "$SPLIT" != 1 ]; then
  echo "bench: cannot raise the open-files limit to 20000 (hard limit: $(ulimit -Hn)); the memory test needs it" >&2
  exit 1
fi

missing=()
needed=(node sysbench mariadb mariadb-install-db)
[ "$SPLIT" = 1 ] || needed+=(haproxy)
for b in "${needed[@]}"; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadbd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: missing: ${missing[*]} (see scripts/install-deps.sh)" >&2
  exit 1
fi
if [ ! -f dist/src/app.js ] || [ ! -f dist/src/sandbox/topology.js ]; then
  echo "bench: dist/ is not built; run 'npx tsc -p tsconfig.json' (npm run bench does it)" >&2
  exit 1
fi
if [ ! -d node_modules/mysql2 ]; then
  echo "bench: node_modules/mysql2 missing; run 'npm install'" >&2
  exit 1
fi

BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")"
export BENCH_TMP
: >"$BENCH_TMP/pids"
DRIVER_PID=""

alive() { kill -0 "$1" 2>/dev/null; }

# pid still runs the process we recorded? (command line contains the marker)
ours() {
  local pid=$1 marker=$2
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  if [ -n "$DRIVER_PID" ] && alive "$DRIVER_PID"; then
    kill -TERM "$DRIVER_PID" 2>/dev/null
    for _ in $(seq 1 450); do alive "$DRIVER_PID" || break; sleep 0.1; done # up to 45 s (driver stops the server)
    alive "$DRIVER_PID" && kill -KILL "$DRIVER_PID" 2>/dev/null
  fi
  # Last resort: whatever the driver started and did not reap.
  local left=()
  while read -r pid marker; do
    [ -n "${pid:-}" ] || continue
    if ours "$pid" "$marker"; then
      kill -TERM "$pid" 2>/dev/null && left+=("$pid $marker")
    fi
  done <"$BENCH_TMP/pids"
  if [ ${#left[@]} -gt 0 ]; then
    echo "bench: stopping ${#left[@]} leftover process(es): ${left[*]%% *}" >&2
    for _ in $(seq 1 100); do
      local any=0
      for e in "${left[@]}"; do ours "${e%% *}" "${e#* }" && any=1; done
      [ "$any" = 0 ] && break
      sleep 0.1
    done
    for e in "${left[@]}"; do ours "${e%% *}" "${e#* }" && kill -KILL "${e%% *}" 2>/dev/null; done
  fi
  rm -rf "$BENCH_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

node "$DRIVER" "$@" &
DRIVER_PID=$!
set +e
wait "$DRIVER_PID"
rc=$?
DRIVER_PID=""
exit "$rc"
