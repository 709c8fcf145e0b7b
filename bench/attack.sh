#!/usr/bin/env bash
# The api under attack, on the local stack (a PostgreSQL primary and replica,
# the release api believing 127.0.0.1 as its proxy): bench/attack.py's
# figures (the api's memory while it refuses 50 MiB bodies, and under two
# bursts of 300 concurrent wrong-password logins) and their targets:
#
#   bench/attack.sh
#   BENCH_SKIP_CARGO=1 BENCH_BIN=target/debug bench/attack.sh
#
# Exit status 1 if a target fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/out/attack"
die() { echo "bench: error: $*" >&2; exit 2; }

if [[ "${BENCH_SKIP_CARGO:-}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release --locked --features generator/postgres -p generator -p api >&2)
fi
BIN="${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
[[ -x "$BIN/api" && -x "$BIN/generator" ]] || die "no api and generator in $BIN; build them or set BENCH_BIN"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rm -rf "$OUT"; mkdir -p "$OUT"
export PG_DATA="$OUT/pg" PG_PRIMARY_PORT="$(free_port)" PG_REPLICA_PORT="$(free_port)"
api_pid=
cleanup() {
    [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
    "$ROOT/infra/local/pg.sh" stop || true
}
trap cleanup EXIT
eval "$("$ROOT/infra/local/pg.sh" start)"
cd "$ROOT"
"$BIN/generator" migrate >/dev/null
"$BIN/generator" import >/dev/null
echo 'a long enough password' | "$BIN/api" admin create-user --email owner@shop.example >/dev/null

API_ADDR=127.0.0.1:0 API_NO_WORKER=1 TRUSTED_PROXIES=127.0.0.1 LOGIN_VERIFIES=2 STATE_DIR="$OUT/state" \
    LOG_FORMAT=json RUST_LOG=warn "$BIN/api" serve >"$OUT/api.out" 2>"$OUT/api.log" &
api_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$OUT/api.out" 2>/dev/null && break; sleep 0.1; done
API=$(sed -n 's/api listening on //p' "$OUT/api.out")
[[ -n $API ]] || die "the api did not start; see $OUT/api.log"
echo "api $("$BIN/api" --version) ($BIN), LOGIN_VERIFIES=2, on $(nproc) cores"
python3 "$ROOT/bench/attack.py" "$API" "$api_pid" owner@shop.example 'a long enough password'
