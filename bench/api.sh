#!/usr/bin/env bash
# Write API benchmarks, on the local stack (a PostgreSQL primary and replica,
# moto as S3 + CloudFront, the release api):
#
#  1. Save-to-live latency: 50 sequential price edits of one product, each
#     timed from the PUT until the product's page in the bucket carries the
#     new price and the CloudFront invalidation exists. Targets: p50 < 500 ms,
#     p95 < 1.5 s.
#  2. Read throughput: GET /api/products (all 100 products) and /healthz,
#     with wrk (Debian's package) in the same run, both with
#     Accept-Encoding: gzip. Target: products at least 50 % of the healthz
#     rate. The rate without gzip is printed too.
#
#   bench/api.sh
#   BENCH_EDITS=20 BENCH_SKIP_CARGO=1 bench/api.sh
#
# Exit status 1 if a target fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/out/api"
EDITS="${BENCH_EDITS:-50}"
die() { echo "bench: error: $*" >&2; exit 2; }

if ! command -v wrk >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "bench: installing wrk (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
    else
        die "wrk is missing; install Debian's wrk package (sudo apt-get install wrk)"
    fi
fi
if [[ "${BENCH_SKIP_CARGO:-}" != 1 ]]; then
    (cd "$ROOT" && cargo build --profile release-lto --features generator/full --locked -p generator -p api >&2)
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release-lto"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rm -rf "$OUT"; mkdir -p "$OUT"
export PG_DATA="$OUT/pg" PG_PRIMARY_PORT="$(free_port)" PG_REPLICA_PORT="$(free_port)"
export MOTO_DATA="$OUT/moto" MOTO_PORT="$(free_port)" S3_BUCKET=bench-api
api_pid=
cleanup() {
    [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
    "$ROOT/infra/local/moto.sh" stop || true
    "$ROOT/infra/local/pg.sh" stop || true
}
trap cleanup EXIT
eval "$("$ROOT/infra/local/pg.sh" start)"
eval "$("$ROOT/infra/local/moto.sh" start)"
cd "$ROOT"
"$BIN/generator" migrate >/dev/null
"$BIN/generator" import >/dev/null
echo 'a long enough password' | "$BIN/api" admin create-user --email bench@shop.example >/dev/null
TOKEN=$("$BIN/api" admin create-token --email bench@shop.example 2>/dev/null)

API_ADDR=127.0.0.1:0 LOG_FORMAT=json RUST_LOG=warn "$BIN/api" serve >"$OUT/api.out" 2>"$OUT/api.log" &
api_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$OUT/api.out" 2>/dev/null && break; sleep 0.1; done
API=$(sed -n 's/api listening on //p' "$OUT/api.out")
[[ -n $API ]] || die "the api did not start; see $OUT/api.log"
for _ in $(seq 300); do curl -fs -o /dev/null "$AWS_ENDPOINT_URL/$S3_BUCKET/products.json" && break; sleep 0.1; done

echo "(1) save-to-live latency, $EDITS sequential price edits (api, primary + replica, moto S3 + CloudFront)"
latency=0
python3 "$ROOT/bench/api_latency.py" "$API" "$TOKEN" "$AWS_ENDPOINT_URL" "$S3_BUCKET" \
    "$CLOUDFRONT_DISTRIBUTION_ID" "$EDITS" | sed 's/^/  /' || latency=1

echo
echo "(2) read throughput, wrk -t2 -c16 -d10s, one after the other"
echo "    (with Accept-Encoding: gzip, as browsers and HTTP libraries send it)"
rate() { wrk -t2 -c16 -d10s "$@" | awk '/Requests\/sec/ { print $2 }'; }
gz=(-H 'Accept-Encoding: gzip')
products=$(rate "${gz[@]}" "$API/api/products?per_page=100")
health=$(rate "${gz[@]}" "$API/healthz")
plain=$(rate "$API/api/products?per_page=100")
bytes_plain=$(curl -fs "$API/api/products?per_page=100" | wc -c)
bytes_gz=$(curl -fs -H 'Accept-Encoding: gzip' "$API/api/products?per_page=100" | wc -c)
ratio=$(python3 -c "print(f'{100 * $products / $health:.1f}')")
printf '  GET /api/products?per_page=100  %10.0f req/s  (%s bytes gzipped)\n' "$products" "$bytes_gz"
printf '  GET /healthz                    %10.0f req/s\n' "$health"
printf '  without gzip: products          %10.0f req/s  (%s bytes), %s %% of healthz\n' "$plain" "$bytes_plain" \
    "$(python3 -c "print(f'{100 * $plain / $health:.1f}')")"
verdict=PASS
python3 -c "import sys; sys.exit(0 if $products >= 0.5 * $health else 1)" || verdict=FAIL
echo "  products at $ratio % of healthz (target >= 50 %): $verdict"
[[ $latency == 0 && $verdict == PASS ]]
