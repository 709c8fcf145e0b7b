#!/usr/bin/env bash
# Build benchmark: wall time and peak memory of `generator build` on the real
# shop (content/, 100 products) and on synthetic catalogs of 10,000 and 100,000
# products, checked against the performance targets.
#
#   bench/build.sh                      # everything
#   BENCH_CATALOGS="content 10k" bench/build.sh
#   BENCH_RUNS_100K=5 bench/build.sh
#
# Settings (environment):
#   BENCH_CATALOGS      which catalogs to run, from "content 10k 100k" (default: all three)
#   BENCH_RUNS_CONTENT  timed runs for content/   (default 5)
#   BENCH_RUNS_10K      timed runs for 10k        (default 5)
#   BENCH_RUNS_100K     timed runs for 100k       (default 3)
#   BENCH_SKIP_CARGO=1  use the existing release-lto binary instead of running cargo build
#   CARGO_TARGET_DIR    honoured, as cargo does
#   BENCH_RUNS_DIR      where the runs write their output (default bench/out/runs);
#                       e.g. /dev/shm/shop-bench to take the disk out of the measurement
#   BENCH_SETTLE        seconds to leave after the previous benchmark's cleanup (default 360)
#
# After its timed runs, each synthetic catalog is built twice more into the
# folder of run 1, as `generator build` is run again on an unchanged catalog;
# the second of those is shown as "rebuild" (it has no target).
#
# Every catalog gets one untimed warm-up run (the page cache cannot be dropped
# without root, so it is warmed instead), then the timed runs. Each run writes
# to a new folder under BENCH_RUNS_DIR; all of them are deleted when the script
# ends (not between runs: on ext4 without a journal, creating files right after
# deleting many is much slower, see the note the script prints, and that would
# measure the previous run's cleanup instead of the generator). The 100k runs
# need about 3 GB of free disk for this. For the same reason a run started
# within 6 minutes of the previous benchmark's cleanup first waits out the rest
# of them ("settle"). Before each run, `sync` (untimed) writes back what the
# earlier runs left in the page cache, so the kernel's writeback of their files
# does not share the CPUs with the timed run.
#
# Wall time is measured by this script around the process with bash's
# microsecond clock (GNU time's own "Elapsed" only has 10 ms resolution); peak
# RSS is GNU time's "Maximum resident set size". The "others" column is the
# largest share of the machine's CPU used by anything but the generator process
# during a timed run (from /proc/stat; it includes kernel background work such
# as writeback), to spot numbers skewed by a busy machine. A catalog PASSes if
# its median wall time and its largest peak RSS are under the targets. The exit
# status is 1 if any target fails.
#
# Synthetic catalogs are made by bench/make_catalog.py under bench/out/ and
# reused while they hold the right number of products and were written by the
# current version of the script.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out"
RUNS_DIR="${BENCH_RUNS_DIR:-$OUT/runs}"
THEMES="$ROOT/themes"

CATALOGS="${BENCH_CATALOGS:-content 10k 100k}"
RUNS_CONTENT="${BENCH_RUNS_CONTENT:-5}"
RUNS_10K="${BENCH_RUNS_10K:-5}"
RUNS_100K="${BENCH_RUNS_100K:-3}"

die() { echo "bench: error: $*" >&2; exit 2; }

# --- targets ---------------------------------------------------------------
# name | content dir | products | runs | wall target (s) | RSS target (MiB, empty = none)
declare -A DIR PRODUCTS RUNS WALL_TARGET RSS_TARGET
DIR[content]="$ROOT/content";        PRODUCTS[content]=100;    RUNS[content]=$RUNS_CONTENT
WALL_TARGET[content]=0.030;          RSS_TARGET[content]=""
DIR[10k]="$OUT/catalog-10k";         PRODUCTS[10k]=10000;      RUNS[10k]=$RUNS_10K
WALL_TARGET[10k]=1.0;                RSS_TARGET[10k]=200
DIR[100k]="$OUT/catalog-100k";       PRODUCTS[100k]=100000;    RUNS[100k]=$RUNS_100K
WALL_TARGET[100k]=10;                RSS_TARGET[100k]=1024

for c in $CATALOGS; do
    [[ -n "${DIR[$c]:-}" ]] || die "unknown catalog '$c' in BENCH_CATALOGS (expected content, 10k, 100k)"
    [[ "${RUNS[$c]}" =~ ^[1-9][0-9]*$ ]] || die "the number of runs for $c must be a positive integer, got '${RUNS[$c]}'"
done

# --- tools -----------------------------------------------------------------
TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "bench: /usr/bin/time is missing; installing it with apt-get install -y time" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null; } \
            || die "could not install GNU time (apt-get install -y time failed)"
    else
        die "/usr/bin/time (GNU time) is missing; install it as root with 'apt-get install -y time' and run again"
    fi
fi
time_check="$($TIME -v true 2>&1 || true)"
[[ $time_check == *"Maximum resident set size"* ]] \
    || die "$TIME does not support -v (GNU time is needed, not the BusyBox one)"
command -v python3 >/dev/null || die "python3 is needed to make the synthetic catalogs"

# --- machine ---------------------------------------------------------------
cpu_model="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
[[ -n $cpu_model ]] || cpu_model="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)"
mem_total="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
echo "== machine"
echo "nproc:      $(nproc)"
echo "CPU model:  ${cpu_model:-unknown}"
echo "memory:     ${mem_total:-unknown}"
echo "kernel:     $(uname -sr)"
echo "rustc:      $(rustc --version 2>/dev/null || echo unknown)"
mkdir -p "$RUNS_DIR"
RUNS_DIR="$(cd "$RUNS_DIR" && pwd)"
# Only remove what this script writes: its own run folders (and the
# generator's staging folders next to them), not the whole of BENCH_RUNS_DIR.
RUN_TAG="run$$"
# When this script last deleted its runs, and on which device (see "settle").
STAMP="$OUT/.runs-removed-at"
RAN=0
cleanup() {
    rm -rf "$RUNS_DIR"/*-"$RUN_TAG" "$RUNS_DIR"/.*-"$RUN_TAG".* "$RUNS_DIR"/*-"$RUN_TAG".{time,stdout,stderr}
    rmdir "$RUNS_DIR" 2>/dev/null || true
    if [[ $RAN == 1 && -n ${RUNS_DEV:-} ]]; then
        mkdir -p "$OUT" && echo "$(date +%s) $RUNS_DEV" >"$STAMP"
    fi
}
trap cleanup EXIT

runs_fs="$(df -PT "$RUNS_DIR" 2>/dev/null | awk 'NR == 2 { print $2 " " $1 }')"
echo "runs write: $RUNS_DIR ($(df -hT "$RUNS_DIR" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 ", " $5 " free" }'))"
# ext4 without a journal skips inodes deleted in the last 60-360 s when it
# allocates new ones (fs/ext4/ialloc.c, recently_deleted()), which makes file
# creation after a big delete very slow. Say so, since it skews the numbers.
if [[ $runs_fs == ext4\ /dev/* ]]; then
    dev="$(basename "$(readlink -f "${runs_fs#ext4 }")")"
    if [[ "$(cat "/sys/fs/ext4/$dev/journal_task" 2>/dev/null)" == "<none>" ]]; then
        NO_JOURNAL=1
        echo "note:       $RUNS_DIR is on ext4 without a journal: file creation is slow for a few"
        echo "            minutes after many files were deleted. This script waits out its own"
        echo "            cleanup (see settle), not other large deletes such as a removed cargo target."
    fi
fi
RUNS_DEV="$(stat -c %d "$RUNS_DIR")"
# settle: this script deletes its runs when it ends. On ext4 without a journal
# the kernel then skips those inodes for up to 6 minutes (5 more while their
# inode table block is dirty) when it allocates new ones, scanning past each of
# them on every file it creates; a benchmark started right after the previous
# one measures that scan, not the generator. So wait out the rest of those
# 6 minutes.
SETTLE="${BENCH_SETTLE:-360}"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "BENCH_SETTLE must be a number of seconds, got '$SETTLE'"
if [[ ${NO_JOURNAL:-0} == 1 && -f $STAMP && $CATALOGS != content ]]; then
    read -r removed_at removed_dev <"$STAMP" || true
    now=$(date +%s)
    if [[ $removed_dev == "$RUNS_DEV" && $removed_at =~ ^[0-9]+$ ]] && (( removed_at + SETTLE > now )); then
        echo "settle:     the last benchmark deleted its runs here $((now - removed_at)) s ago; waiting"
        echo "            $((removed_at + SETTLE - now)) s for the filesystem (BENCH_SETTLE=0 skips this)"
        sleep $((removed_at + SETTLE - now))
    fi
fi
echo

# --- binary ----------------------------------------------------------------
cd "$ROOT"
target_dir="${CARGO_TARGET_DIR:-target}"
[[ $target_dir == /* ]] || target_dir="$ROOT/$target_dir"
BIN="$target_dir/release-lto/generator"
if [[ "${BENCH_SKIP_CARGO:-0}" != 1 ]]; then
    echo "== cargo build --profile release-lto -p generator"
    cargo build --profile release-lto -p generator
    echo
fi
[[ -x $BIN ]] || die "$BIN was not built"

# --- catalogs --------------------------------------------------------------
mkdir -p "$OUT"
ensure_catalog() { # name
    local name=$1 dir=${DIR[$1]} n=${PRODUCTS[$1]} have=0 want_stamp
    [[ $name == content ]] && return 0
    want_stamp="$(python3 "$BENCH/make_catalog.py" "$n" "$dir" --print-stamp)"
    if [[ -d $dir/products ]]; then
        have=$(find "$dir/products" -maxdepth 1 -type f -name '*.md' | wc -l)
    fi
    if [[ $have -eq $n && -f $dir/site.toml && "$(cat "$dir/.catalog-stamp" 2>/dev/null)" == "$want_stamp" ]]; then
        echo "catalog $name: reusing $dir ($n products)"
    else
        echo "catalog $name: making $n products in $dir"
        python3 "$BENCH/make_catalog.py" "$n" "$dir"
    fi
}
echo "== catalogs"
for c in $CATALOGS; do ensure_catalog "$c"; done
echo

# --- runs ------------------------------------------------------------------
# CPU time the whole machine spent (all CPUs, excluding idle and iowait), in
# seconds, from /proc/stat. Compared with the generator's own user+sys time it
# tells how much of the machine other processes used during a run.
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
NPROC="$(nproc)"
pct() { if [[ $1 == - ]]; then echo -; else echo "$1%"; fi; }
busy_seconds() {
    awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}

LAST_WALL="" LAST_RSS_KB="" LAST_SUMMARY="" LAST_OTHERS=""
run_once() { # name label [the folder of an earlier run, to build into again]
    local name=$1 label=$2
    local out="${3:-$RUNS_DIR/$name-$label-$RUN_TAG}"
    local log="$RUNS_DIR/$name-$label-$RUN_TAG.time"
    local stdout="$RUNS_DIR/$name-$label-$RUN_TAG.stdout" stderr="$RUNS_DIR/$name-$label-$RUN_TAG.stderr"
    local t0 t1 status=0
    [[ -n ${3:-} || ! -e $out ]] || die "$out already exists"
    local b0 b1
    [[ $name == content ]] || RAN=1 # (content/'s few hundred files do not count)
    # Untimed: write back what earlier runs left dirty, so that the kernel's
    # writeback of their files does not compete with this run for the CPUs.
    sync
    b0=$(busy_seconds)
    t0=$EPOCHREALTIME
    $TIME -v -o "$log" "$BIN" build --content "${DIR[$name]}" --out "$out" --themes "$THEMES" \
        >"$stdout" 2>"$stderr" || status=$?
    t1=$EPOCHREALTIME
    b1=$(busy_seconds)
    if [[ $status -ne 0 ]]; then
        echo "bench: generator build failed on $name (exit $status):" >&2
        cat "$stderr" "$stdout" >&2
        exit 1
    fi
    LAST_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    LAST_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    # Share of the machine's CPU capacity used by other processes during the run.
    LAST_OTHERS=$(awk -F': ' -v b0="$b0" -v b1="$b1" -v w="$LAST_WALL" -v n="$NPROC" '
        /User time \(seconds\)/ || /System time \(seconds\)/ { own += $2 }
        END { o = (b1 - b0 - own) / (w * n) * 100; if (o < 0) o = 0; if (o > 100) o = 100; printf "%.0f", o }' "$log")
    # /proc/stat and GNU time count in 10 ms ticks: meaningless for short runs.
    if awk -v w="$LAST_WALL" 'BEGIN { exit !(w < 0.5) }'; then LAST_OTHERS="-"; fi
    LAST_SUMMARY=$(tail -n1 "$stdout")
    LAST_CHANGES=""
    [[ $LAST_SUMMARY != *" written, "*" unchanged, "* ]] || LAST_CHANGES="(${LAST_SUMMARY##* (}"
    LAST_SUMMARY=${LAST_SUMMARY% → *}
    rm -f "$log" "$stdout" "$stderr"
    # "$out" is deleted when the script ends (see the header).
}

declare -A MEDIAN MIN RSS_MAX SUMMARY OTHERS_MAX REBUILD
echo "== runs (1 warm-up + timed runs each)"
for c in $CATALOGS; do
    run_once "$c" warmup
    printf '%-8s warm-up  %8.3f s  %8.1f MiB  others %4s   %s\n' "$c" "$LAST_WALL" "$(awk -v k="$LAST_RSS_KB" 'BEGIN { print k / 1024 }')" "$(pct "$LAST_OTHERS")" "$LAST_SUMMARY"
    SUMMARY[$c]=$LAST_SUMMARY
    OTHERS_MAX[$c]=0
    walls=() rss=()
    for ((i = 1; i <= RUNS[$c]; i++)); do
        run_once "$c" "$i"
        walls+=("$LAST_WALL")
        rss+=("$LAST_RSS_KB")
        if [[ $LAST_OTHERS == - ]]; then
            OTHERS_MAX[$c]=-
        elif [[ ${OTHERS_MAX[$c]} != - ]] && (( LAST_OTHERS > OTHERS_MAX[$c] )); then
            OTHERS_MAX[$c]=$LAST_OTHERS
        fi
        printf '%-8s run %d/%d  %8.3f s  %8.1f MiB  others %4s\n' "$c" "$i" "${RUNS[$c]}" "$LAST_WALL" "$(awk -v k="$LAST_RSS_KB" 'BEGIN { print k / 1024 }')" "$(pct "$LAST_OTHERS")"
    done
    if [[ $c != content ]]; then
        # A rebuild of the same catalog into the folder of run 1: the first
        # one keeps that build aside as .<folder>.prev, the second (timed)
        # starts from it and finds every file unchanged.
        first="$RUNS_DIR/$c-1-$RUN_TAG"
        run_once "$c" again "$first"
        run_once "$c" rebuild "$first"
        REBUILD[$c]=$(printf '%.3f s  %.1f MiB  others %s  %s' "$LAST_WALL" "$(awk -v k="$LAST_RSS_KB" 'BEGIN { print k / 1024 }')" "$(pct "$LAST_OTHERS")" "$LAST_CHANGES")
        printf '%-8s rebuild  %8.3f s  %8.1f MiB  others %4s   %s\n' "$c" "$LAST_WALL" "$(awk -v k="$LAST_RSS_KB" 'BEGIN { print k / 1024 }')" "$(pct "$LAST_OTHERS")" "$LAST_CHANGES"
    fi
    MEDIAN[$c]=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    MIN[$c]=$(printf '%s\n' "${walls[@]}" | sort -g | head -n1)
    RSS_MAX[$c]=$(printf '%s\n' "${rss[@]}" | sort -g | tail -n1)
done
echo

# --- report ----------------------------------------------------------------
fmt_target() { # name
    local t="< ${WALL_TARGET[$1]} s"
    if [[ -n ${RSS_TARGET[$1]} ]]; then
        if (( RSS_TARGET[$1] >= 1024 && RSS_TARGET[$1] % 1024 == 0 )); then
            t+=", < $((RSS_TARGET[$1] / 1024)) GiB"
        else
            t+=", < ${RSS_TARGET[$1]} MiB"
        fi
    fi
    echo "$t"
}

any_fail=0
report="$(
    printf '%-9s %-9s %-5s %-12s %-10s %-11s %-19s %-7s %s\n' catalog products runs "wall median" "wall min" "peak RSS" target others result
    for c in $CATALOGS; do
        rss_mib=$(awk -v k="${RSS_MAX[$c]}" 'BEGIN { printf "%.1f", k / 1024 }')
        wall_ok=$(awk -v m="${MEDIAN[$c]}" -v t="${WALL_TARGET[$c]}" 'BEGIN { print (m < t) ? 1 : 0 }')
        rss_ok=1
        if [[ -n ${RSS_TARGET[$c]} ]]; then
            rss_ok=$(awk -v r="$rss_mib" -v t="${RSS_TARGET[$c]}" 'BEGIN { print (r < t) ? 1 : 0 }')
        fi
        result=PASS
        if [[ $wall_ok != 1 || $rss_ok != 1 ]]; then
            result="FAIL ("
            [[ $wall_ok == 1 ]] || result+="time"
            [[ $wall_ok == 1 || $rss_ok == 1 ]] || result+=", "
            [[ $rss_ok == 1 ]] || result+="memory"
            result+=")"
        fi
        printf '%-9s %-9s %-5s %-12s %-10s %-11s %-19s %-7s %s\n' "$c" "${PRODUCTS[$c]}" "${RUNS[$c]}" \
            "$(printf '%.3f s' "${MEDIAN[$c]}")" "$(printf '%.3f s' "${MIN[$c]}")" "$rss_mib MiB" \
            "$(fmt_target "$c")" "$(pct "${OTHERS_MAX[$c]}")" "$result"
    done
)"
echo "== results ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "$report"
echo
echo "others: the most CPU other processes used during any timed run, as a share of all $NPROC CPUs"
echo "        (- for runs under 0.5 s, too short to tell); above ~10% the times are inflated by"
echo "        contention and worth re-running."
echo
for c in $CATALOGS; do echo "$c: ${SUMMARY[$c]}"; done
for c in $CATALOGS; do
    [[ -z ${REBUILD[$c]:-} ]] || echo "$c rebuild, nothing changed (no target): ${REBUILD[$c]}"
done
{
    echo "nproc=$(nproc) cpu=${cpu_model:-unknown}"
    echo "$report"
} >"$OUT/last-results.txt"
grep -q FAIL <<<"$report" && any_fail=1
exit $any_fail
