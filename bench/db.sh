#!/usr/bin/env bash
# Database benchmark: import time for 100 and 10,000 products, and the build of
# 10,000 products from PostgreSQL (through the replica) next to the build from
# content. Targets: import of 100 under 1 s; the PostgreSQL build within 1.3x
# of the content build.
#
#   bench/db.sh            # BENCH_RUNS=5 by default; BENCH_SKIP_CARGO=1 reuses the binary
#
# It starts a primary + replica pair of its own (infra/local/pg.sh, temporary
# data folder, ports 54341/54342) and stops it at the end. Build output goes to
# tmpfs (/dev/shm) when it exists, so the figures compare the sources rather
# than the disk.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs=${BENCH_RUNS:-5}
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release-lto/generator
[ "${BENCH_SKIP_CARGO:-}" = 1 ] || cargo build --profile release-lto --features full -q -p generator
[ -x "$bin" ] || { echo "bench: $bin is missing; run cargo build --profile release-lto --features full -p generator" >&2; exit 2; }

catalog=bench/out/catalog-10k
if [ ! -f "$catalog/.catalog-stamp" ]; then
  python3 bench/make_catalog.py 10000 "$catalog" >/dev/null
fi

export PG_DATA=$(mktemp -d /tmp/shopfront-bench-pg.XXXXXX)
export PG_PRIMARY_PORT=54341 PG_REPLICA_PORT=54342
scratch=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo /tmp)/shopfront-bench.XXXXXX")
trap 'infra/local/pg.sh stop; rm -rf "$PG_DATA" "$scratch"' EXIT
eval "$(infra/local/pg.sh start)"
base=${DATABASE_URL%/postgres}
rbase=${DATABASE_REPLICA_URL%/postgres}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

fresh_db() { # name -> exports DATABASE_URL / DATABASE_REPLICA_URL for it
  PGOPTIONS=--client-min-messages=warning psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  export DATABASE_URL=$base/$1 DATABASE_REPLICA_URL=$rbase/$1
  "$bin" migrate >/dev/null
}

time_import() { # content dir -> seconds of a first import into a fresh database
  local times=() i t0
  for i in $(seq "$runs"); do
    fresh_db bench_import
    t0=$(now); "$bin" import --content "$1" >/dev/null; times+=("$(secs "$t0" "$(now)")")
  done
  printf '%s\n' "${times[@]}" | median
}

import100=$(time_import content)
import10k=$(time_import "$catalog")

# The 10k catalog in the database, then both builds alternately.
fresh_db bench_build
"$bin" import --content "$catalog" >/dev/null
export SOURCE_DATE_EPOCH=1767225600
"$bin" build --source postgres --content "$catalog" --out "$scratch/warm" >/dev/null 2>&1
pg=() ct=()
for i in $(seq "$runs"); do
  t0=$(now); "$bin" build --source content --content "$catalog" --out "$scratch/c$i" >/dev/null; ct+=("$(secs "$t0" "$(now)")")
  t0=$(now); "$bin" build --source postgres --content "$catalog" --out "$scratch/p$i" >/dev/null 2>"$scratch/log"; pg+=("$(secs "$t0" "$(now)")")
done
grep -q "from the replica" "$scratch/log" || { echo "bench: the PostgreSQL build did not read from the replica:" >&2; cat "$scratch/log" >&2; exit 1; }
diff -rq "$scratch/c1" "$scratch/p1" >/dev/null || { echo "bench: the two builds differ" >&2; exit 1; }
ctm=$(printf '%s\n' "${ct[@]}" | median)
pgm=$(printf '%s\n' "${pg[@]}" | median)
ratio=$(awk -v a="$pgm" -v b="$ctm" 'BEGIN { printf "%.2f", a / b }')

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) ? "PASS" : "FAIL" }'; }
printf '\nnproc=%s  runs=%s  (medians)\n' "$(nproc)" "$runs"
printf '%-34s %10s   %-14s %s\n' measure value target result
printf '%-34s %9ss   %-14s %s\n' "import 100 products" "$import100" "< 1 s" "$(verdict "$import100" 1)"
printf '%-34s %9ss   %-14s %s\n' "import 10,000 products" "$import10k" "-" "-"
printf '%-34s %9ss   %-14s %s\n' "build 10,000 from content" "$ctm" "-" "-"
printf '%-34s %9ss   %-14s %s\n' "build 10,000 from PostgreSQL" "$pgm" "-" "-"
printf '%-34s %9sx   %-14s %s\n' "PostgreSQL / content" "$ratio" "<= 1.3x" "$(verdict "$ratio" 1.3001)"
echo "(the two builds are byte-identical; the PostgreSQL one read from the replica)"
