#!/usr/bin/env bash
# First-run benchmark: what a new user waits for. It clones the repository
# into a temporary folder, runs the README's first command there
# (`cargo run --release -p generator -- serve`) with an empty target folder,
# and prints the wall time from the start of the command to the first HTTP 200
# from the server, and how many crates cargo compiled on the way.
#
#   bench/first-run.sh              # HEAD, the cargo registry cache as it is
#   bench/first-run.sh REV          # another commit (for a before/after figure)
#   BENCH_EMPTY_REGISTRY=1 bench/first-run.sh   # also an empty CARGO_HOME, so
#                                   # every crate is downloaded first
#
# Settings (environment):
#   BENCH_EMPTY_REGISTRY=1  use a new, empty CARGO_HOME (the toolchain stays)
#   BENCH_PORT              the port serve listens on (default 8765)
#   BENCH_KEEP=1            keep the clone and its target folder afterwards
#   BENCH_TIMINGS=1         also run cargo with --timings and print the ten
#                           crates that took longest to compile
#
# Nothing is shared with the checkout's own target folder or CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REV="${1:-HEAD}"
PORT="${BENCH_PORT:-8765}"
WORK="$(mktemp -d /tmp/shopfront-first-run.XXXXXX)"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -- -"$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  [ "${BENCH_KEEP:-}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

git clone -q "$ROOT" "$WORK/shop"
git -C "$WORK/shop" checkout -q "$REV"
commit="$(git -C "$WORK/shop" rev-parse --short HEAD)"

unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
export CARGO_TARGET_DIR="$WORK/target"
registry="as it is"
if [ "${BENCH_EMPTY_REGISTRY:-}" = 1 ]; then
  # rustup's proxies find the toolchain through RUSTUP_HOME, so a new
  # CARGO_HOME only empties the registry and git caches.
  export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  cargo_bin=$(dirname "$(command -v cargo)")
  export PATH="$cargo_bin:$PATH"
  export CARGO_HOME="$WORK/cargo-home"
  mkdir -p "$CARGO_HOME"
  registry="empty (every crate downloaded)"
fi

if curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
  echo "error: something already answers on port $PORT; set BENCH_PORT" >&2
  exit 1
fi

cd "$WORK/shop"
log="$WORK/cargo.log"
start=$(date +%s.%N)
# setsid: the server and cargo get a process group of their own to stop.
timings=()
[ "${BENCH_TIMINGS:-}" = 1 ] && timings=(--timings)
setsid cargo run "${timings[@]}" --release -p generator -- serve --port "$PORT" >"$log" 2>&1 &
SERVER_PID=$!

status=""
while kill -0 "$SERVER_PID" 2>/dev/null; do
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null || true)
  [ "$status" = 200 ] && break
  sleep 0.2
done
end=$(date +%s.%N)
if [ "$status" != 200 ]; then
  echo "error: the server exited before answering 200; its output:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi

compiled=$(grep -c '^ *Compiling ' "$log" || true)
downloaded=$(grep -c '^ *Downloaded ' "$log" || true)
wall=$(echo "$end - $start" | bc -l 2>/dev/null || python3 -c "print($end - $start)")

printf 'commit            %s\n' "$commit"
printf 'registry cache    %s\n' "$registry"
printf 'crates downloaded %s\n' "$downloaded"
printf 'crates compiled   %s\n' "$compiled"
printf 'first 200 after   %.1f s\n' "$wall"
if [ "${BENCH_TIMINGS:-}" = 1 ]; then
  report=$(ls -t "$CARGO_TARGET_DIR"/cargo-timings/cargo-timing-*.html 2>/dev/null | head -n 1)
  # The report only appears once cargo is done, which it is before serving.
  if [ -n "$report" ]; then
    echo "slowest crates to compile (cargo --timings, $report):"
    python3 - "$report" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
for u in sorted(units, key=lambda u: -u["duration"])[:10]:
    print(f"  {u['duration']:6.1f} s  {u['name']} {u.get('target', '').strip()}")
PY
  fi
fi
