#!/usr/bin/env bash
# Publish benchmark: `generator publish` against `aws s3 sync` (awscli from
# PyPI), on the same tree and the same local S3 + CloudFront stand-in
# (moto_server), in one run.
#
#   bench/publish.sh
#   BENCH_SKIP_10K=1 bench/publish.sh     # only (a)
#
# (a) A one-product price edit after a full regeneration of the 100-product
#     shop. Both tools first publish the same site to a bucket of their own;
#     then one price changes and the whole tree is regenerated, so every file
#     has a new mtime. Counted: each tool's requests as moto logged them, and
#     its wall time (the generator's includes rendering the site; sync's does
#     not include the build). Target: under 10 PUTs, and under 10 % of sync's
#     time.
# (b) The first publish of a 10,000-product catalog to an empty bucket:
#     objects per second, from the publish's own summary (upload time only),
#     and the wall time of the whole command.
#
# Settings (environment): BENCH_RUNS_A (runs of (a), default 5; the verdict
# uses the median ratio and the most PUTs of any run), BENCH_SKIP_10K=1,
# BENCH_SYNC_10K=1 (also time `aws s3 sync` of the 10,000-product tree, for
# comparison), BENCH_SKIP_CARGO=1 (use the existing release binary),
# CARGO_TARGET_DIR (honoured), BENCH_CONCURRENCY (the publisher's
# --concurrency, default 16).
# Exit status 1 if a target of (a) fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/out/publish"
VENV="$ROOT/infra/local/.data/venv-awscli"
REQS="$ROOT/bench/requirements-awscli.txt"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
RUNS_A="${BENCH_RUNS_A:-5}"
die() { echo "bench: error: $*" >&2; exit 2; }

command -v python3 >/dev/null || die "python3 is missing"
command -v bc >/dev/null || die "bc is missing (Debian: apt-get install bc)"
if ! [[ -x "$VENV/bin/aws" ]] || ! cmp -s "$REQS" "$VENV/.requirements"; then
    echo "bench: installing awscli into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" >&2
    cp "$REQS" "$VENV/.requirements"
fi
AWS="$VENV/bin/aws"

if [[ "${BENCH_SKIP_CARGO:-}" != 1 ]]; then
    (cd "$ROOT" && cargo build --profile release-lto --features full --locked -p generator >&2)
fi
GEN="${CARGO_TARGET_DIR:-$ROOT/target}/release-lto/generator"
[[ -x "$GEN" ]] || die "$GEN is missing; run without BENCH_SKIP_CARGO"

rm -rf "$OUT"
mkdir -p "$OUT"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export MOTO_DATA="$OUT/moto" MOTO_PORT="$PORT"
trap '"$ROOT/infra/local/moto.sh" stop' EXIT
eval "$("$ROOT/infra/local/moto.sh" start)"
LOG="$MOTO_DATA/server.log"
unset S3_PREFIX DATABASE_URL
export S3_BUCKET=""  # every command names its bucket

now() { date +%s.%N; }
# Requests moto logged since byte offset $1 for bucket $2, by method; the
# invalidations (POST .../invalidation) are counted separately.
log_offset() { stat -c %s "$LOG"; }
count() { # offset bucket method
    sleep 0.3
    tail -c +"$(( $1 + 1 ))" "$LOG" | grep -Ec "$3 /$2[/? ]" || true
}
invalidations() { sleep 0.3; tail -c +"$(( $1 + 1 ))" "$LOG" | grep -c 'POST /[0-9-]*/distribution/[^/]*/invalidation' || true; }
all_requests() { sleep 0.3; tail -c +"$(( $1 + 1 ))" "$LOG" | grep -Ec '"[^"]*(GET|PUT|HEAD|POST|DELETE) /' || true; }

publish() { # content bucket [args...]
    local content=$1 bucket=$2; shift 2
    "$GEN" publish --content "$content" --themes "$ROOT/themes" --bucket "$bucket" \
        --concurrency "$CONCURRENCY" --json "$@"
}

# --- (a) one edit after a full regeneration --------------------------------
SHOP="$OUT/shop"
mkdir -p "$SHOP"
cp -r "$ROOT/content" "$SHOP/content"
TREE="$OUT/tree"
"$GEN" build --content "$SHOP/content" --themes "$ROOT/themes" --out "$TREE" >/dev/null
"$AWS" s3 mb s3://bench-sync >/dev/null
"$AWS" s3 mb s3://bench-pub >/dev/null
"$AWS" s3 sync --quiet "$TREE" s3://bench-sync/
publish "$SHOP/content" bench-pub >/dev/null

file="$SHOP/content/products/alpaca-blend-scarf.md"
grep -q '^price = "69.00"' "$file" || die "$file does not have the expected price"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo
echo "(a) one price edit after a full regeneration of the 100-product shop, $RUNS_A runs"
printf '  %-4s %-20s %6s %10s %9s\n' run tool PUTs requests "wall (s)"
ratios=() pub_puts_all=() sync_all=() pub_all=()
for run in $(seq "$RUNS_A"); do
    sleep 1.1   # S3 keeps whole seconds; the regenerated files must be newer
    sed -i "s/^price = \"[0-9.]*\"/price = \"$(( 60 + run )).50\"/" "$file"
    "$GEN" build --content "$SHOP/content" --themes "$ROOT/themes" --out "$TREE" >/dev/null

    o=$(log_offset); t0=$(now)
    "$AWS" s3 sync --quiet "$TREE" s3://bench-sync/
    t1=$(now)
    sync_s=$(echo "$t1 - $t0" | bc -l)
    sync_puts=$(count "$o" bench-sync PUT)
    sync_reqs=$(all_requests "$o")

    o=$(log_offset); t0=$(now)
    summary=$(publish "$SHOP/content" bench-pub)
    t1=$(now)
    pub_s=$(echo "$t1 - $t0" | bc -l)
    pub_puts=$(count "$o" bench-pub PUT)
    pub_reqs=$(all_requests "$o")
    pub_inval=$(invalidations "$o")
    read -r pub_uploads pub_paths < <(python3 -c 'import json,sys; s=json.load(sys.stdin); i=s["invalidation"]; print(len(s["uploads"]), len(i["paths"]) if isinstance(i, dict) else i)' <<<"$summary")

    printf '  %-4s %-20s %6d %10d %9.3f\n' "$run" "aws s3 sync" "$sync_puts" "$sync_reqs" "$sync_s"
    printf '  %-4s %-20s %6d %10d %9.3f   (%d objects + %d manifest writes; %d invalidation of %s paths)\n' \
        "$run" "generator publish" "$pub_puts" "$pub_reqs" "$pub_s" "$pub_uploads" "$(( pub_puts - pub_uploads ))" "$pub_inval" "$pub_paths"
    ratios+=("$(echo "100 * $pub_s / $sync_s" | bc -l)")
    pub_puts_all+=("$pub_puts") sync_all+=("$sync_s") pub_all+=("$pub_s")
done
objects=$(find "$TREE" -type f ! -name .shopfront-output | wc -l)
ratio=$(median "${ratios[@]}")
max_puts=$(printf '%s\n' "${pub_puts_all[@]}" | sort -n | tail -1)
verdict=PASS
(( max_puts < 10 )) || verdict=FAIL
(( $(echo "$ratio < 10" | bc -l) )) || verdict=FAIL
printf '  %d objects in the tree; medians: sync %.3f s, publish %.3f s\n' "$objects" "$(median "${sync_all[@]}")" "$(median "${pub_all[@]}")"
printf '  median time ratio: %.1f %% of sync (target < 10 %%); most PUTs in a run: %d (target < 10): %s\n' "$ratio" "$max_puts" "$verdict"

# --- (b) first publish of 10,000 products -----------------------------------
if [[ "${BENCH_SKIP_10K:-}" != 1 ]]; then
    CAT="$ROOT/bench/out/catalog-10k"
    want="$(python3 "$ROOT/bench/make_catalog.py" 10000 "$CAT" --print-stamp)"
    if [[ "$(cat "$CAT/.catalog-stamp" 2>/dev/null)" != "$want" ]]; then
        python3 "$ROOT/bench/make_catalog.py" 10000 "$CAT" >&2
    fi
    "$AWS" s3 mb s3://bench-10k >/dev/null
    o=$(log_offset); t0=$(now)
    summary=$(publish "$CAT" bench-10k)
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc -l)
    puts=$(count "$o" bench-10k PUT)
    read -r n ms bytes < <(python3 -c 'import json,sys; s=json.load(sys.stdin); print(len(s["uploads"]), s["elapsed_ms"], s["upload_bytes"])' <<<"$summary")
    echo
    echo "(b) first publish of 10,000 products to an empty bucket (--concurrency $CONCURRENCY)"
    printf '  %d objects (%.1f MiB), %d PUTs; publish %.2f s = %.0f objects/s; whole command (render + publish) %.2f s\n' \
        "$n" "$(echo "$bytes / 1048576" | bc -l)" "$puts" "$(echo "$ms / 1000" | bc -l)" \
        "$(echo "$n * 1000 / $ms" | bc -l)" "$wall"
    if [[ "${BENCH_SYNC_10K:-}" == 1 ]]; then
        TREE10K="$OUT/tree-10k"
        "$GEN" build --content "$CAT" --themes "$ROOT/themes" --out "$TREE10K" >/dev/null
        "$AWS" s3 mb s3://bench-sync-10k >/dev/null
        t0=$(now)
        "$AWS" s3 sync --quiet "$TREE10K" s3://bench-sync-10k/
        t1=$(now)
        s=$(echo "$t1 - $t0" | bc -l)
        printf '  aws s3 sync of the same tree: %.2f s = %.0f objects/s\n' "$s" "$(echo "$n / $s" | bc -l)"
    fi
fi

[[ $verdict == PASS ]]
