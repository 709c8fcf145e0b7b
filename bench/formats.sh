#!/usr/bin/env bash
# Format benchmark: WebP (what crates/images writes, libwebp at quality 80,
# method 4) against AVIF at a few qualities and two speeds, and the JPEG
# fallback, on the photo shop's photos: bytes, encode time and SSIM, to choose
# the modern format from measurements.
#
#   bench/formats.sh            # 6 photos, 3 encodes of each (about a minute)
#   bench/formats.sh --quick    # 2 photos, 1 encode of each, to try it out
#
# For each photo (photo-000.jpg .. of bench/images.sh, 3648x2432 JPEG q90,
# each from a different photograph) and each of the widths 640 and 1280, it
# resizes with Lanczos (not timed) and encodes in memory, with Pillow:
#   - WebP q80 method 4 (libwebp's default, what the `webp` crate uses);
#   - AVIF (libavif with aom, 4:2:0, max_threads=1) at qualities 50, 55 and
#     60, each at speed 6 (libavif's default) and speed 8;
#   - JPEG q80 4:2:0 (libjpeg-turbo), the fallback for browsers without them.
# Each encode is repeated and its least CPU time kept, on one thread. Each
# output is decoded and compared with the resized image (SSIM of the luma,
# PSNR over RGB, with numpy).
#
# It prints the machine's load (uptime) before and after, then one row per
# format and settings: median bytes, median encode ms and median SSIM at each
# width, CPU/wall of the encodes (1.00 = one thread, not waiting), PSNR, the
# bytes and encode time relative to WebP, and the encode time a shop of 100
# photos would take at all 5 widths of the pipeline (320 .. 1920, one
# format, single-threaded CPU seconds: extrapolated from a fixed plus a
# per-pixel cost fitted to the measured widths, not measured). Then which
# AVIF quality matches WebP's SSIM (the lowest at speed 6 that reaches it)
# and a one-line verdict: that quality's bytes and encode time against WebP's,
# at each speed. It measures; it has no target and exits 0 unless a step
# breaks (exit 1 or 2).
#
# Not what the pipeline runs byte for byte: Pillow's wheels bring their own
# libwebp (the `webp` crate builds libwebp-sys's, 1.3.1) and libjpeg-turbo
# (the pipeline's JPEG is the `image` crate's encoder); the versions are
# printed. The encoders are single-threaded here; the pipeline runs one
# encode per core.
#
# Settings (environment):
#   BENCH_PHOTOS          photos (default 6, 2 with --quick)
#   BENCH_REPEATS         encodes of each image and setting, the least CPU time kept (default 3, 1 with --quick)
#   BENCH_WIDTHS          widths measured (default "640 1280")
#   BENCH_AVIF_QUALITIES  AVIF qualities (Pillow's 0-100; default "50 55 60")
#   BENCH_AVIF_SPEEDS     AVIF speeds (0-10; default "6 8"; the first one picks the matched quality)
#   BENCH_SHOP            photos of the extrapolated shop (default 100)
#   BENCH_NICE            niceness of the measurement (default 10: others compiling keep their CPU;
#                         the ms are CPU time, which that hardly changes)
#
# Everything goes under bench/out/ (ignored by git): Pillow and numpy in a
# venv bench/out/formats/.venv (bench/formats/requirements.txt), the photos
# where bench/images.sh keeps them (bench/out/images/photos-3648x2432-q90/,
# made here the same way if missing), and the printed results in
# bench/out/formats/last-results.txt.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out/formats"
HELPER="$BENCH/formats/measure.py"
REQS="$BENCH/formats/requirements.txt"
VENV="$OUT/.venv"
# The photos of bench/images.sh, made by its helper with its settings.
IMAGES_OUT="$BENCH/out/images"
PHOTO_SHOP="$BENCH/images/photo_shop.py"
PHOTO_W=3648 PHOTO_H=2432 PHOTO_Q=90
PHOTO_PKG=mate-backgrounds
PHOTO_SUBDIR=usr/share/backgrounds/mate/nature
PHOTOS="$IMAGES_OUT/photos-${PHOTO_W}x${PHOTO_H}-q$PHOTO_Q"

die() { echo "bench: error: $*" >&2; exit 2; }
trap 'echo "bench: error: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
say() { echo "bench: $*"; }
usage() { sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

N_PHOTOS="${BENCH_PHOTOS:-6}"
REPEATS="${BENCH_REPEATS:-3}"
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) N_PHOTOS="${BENCH_PHOTOS:-2}" REPEATS="${BENCH_REPEATS:-1}" ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument '$1' (expected --quick or --help)" ;;
    esac
    shift
done
WIDTHS="${BENCH_WIDTHS:-640 1280}"
AVIF_QUALITIES="${BENCH_AVIF_QUALITIES:-50 55 60}"
AVIF_SPEEDS="${BENCH_AVIF_SPEEDS:-6 8}"
SHOP="${BENCH_SHOP:-100}"
NICE="${BENCH_NICE:-10}"
for v in N_PHOTOS REPEATS SHOP; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
if ! [[ $NICE =~ ^[0-9]+$ ]] || (( NICE > 19 )); then die "BENCH_NICE must be 0 to 19, got '$NICE'"; fi
for v in WIDTHS AVIF_QUALITIES AVIF_SPEEDS; do
    [[ ${!v} =~ ^[0-9]+([\ ,][0-9]+)*$ ]] || die "BENCH_$v must list integers, got '${!v}'"
done
(( N_PHOTOS <= 100 )) || die "BENCH_PHOTOS is at most 100, got $N_PHOTOS"

# --- tools -----------------------------------------------------------------
apt_install() { # package
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        die "$1 is missing; install it as root with 'apt-get install -y $1' and run again"
    fi
    say "installing $1 (apt-get install -y $1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; } \
        || die "could not install $1 with apt-get"
}
command -v python3 >/dev/null || die "python3 is missing"
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

mkdir -p "$OUT"
if ! [[ -x $VENV/bin/python ]] || ! cmp -s "$REQS" "$VENV/.requirements"; then
    say "installing $(grep -v '^#' "$REQS" | tr '\n' ' ')into $VENV (pip)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$VENV/.requirements"
fi
PY="$VENV/bin/python"
"$PY" -c 'from PIL import features; import sys; sys.exit(not features.check("avif"))' \
    || die "the venv's Pillow has no AVIF encoder (features.check('avif') is False); see $REQS"

# --- photographs -------------------------------------------------------------
# As bench/images.sh: Debian's mate-backgrounds, installed or unpacked under
# bench/out/images/pkg, made into the shop's photos by photo_shop.py (which
# keeps the photos already there and makes only missing ones).
have=0
[[ ! -d $PHOTOS ]] || have=$(find "$PHOTOS" -maxdepth 1 -name 'photo-*.jpg' | wc -l)
if (( have < N_PHOTOS )); then
    if [[ -d /$PHOTO_SUBDIR ]] && dpkg-query -W -f='${Status}' "$PHOTO_PKG" 2>/dev/null | grep -q 'ok installed'; then
        SRC_PHOTOS="/$PHOTO_SUBDIR"
    else
        pkg_dir="$IMAGES_OUT/pkg"
        SRC_PHOTOS="$pkg_dir/root/$PHOTO_SUBDIR"
        if ! [[ -d $SRC_PHOTOS ]]; then
            command -v apt-get >/dev/null || die "apt-get is needed to fetch Debian's $PHOTO_PKG (its photographs)"
            say "fetching Debian's $PHOTO_PKG for its photographs (apt-get download, unpacked under $pkg_dir)"
            rm -rf "$pkg_dir"; mkdir -p "$pkg_dir"
            if ! (cd "$pkg_dir" && apt-get download -qq "$PHOTO_PKG" >/dev/null 2>&1); then
                [[ $(id -u) -eq 0 ]] || die "apt-get download $PHOTO_PKG failed; run 'apt-get update' as root and try again"
                apt-get update -qq
                (cd "$pkg_dir" && apt-get download -qq "$PHOTO_PKG" >/dev/null) || die "apt-get download $PHOTO_PKG failed"
            fi
            dpkg-deb -x "$pkg_dir"/"$PHOTO_PKG"_*.deb "$pkg_dir/root"
            [[ -d $SRC_PHOTOS ]] || die "$PHOTO_PKG has no $PHOTO_SUBDIR"
        fi
    fi
    # One job: the machine is shared.
    nice -n "$NICE" "$PY" "$PHOTO_SHOP" photos "$SRC_PHOTOS" "$PHOTOS" "$N_PHOTOS" \
        --width "$PHOTO_W" --height "$PHOTO_H" --quality "$PHOTO_Q" --jobs 1 | sed 's/^/bench: /'
fi

# --- measurement -------------------------------------------------------------
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
NPROC="$(nproc)"
busy_seconds() {
    awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
# CPU seconds of this shell's finished children: the second line of `times`,
# which must run in this shell (in a subshell it would count the subshell's).
children_seconds() {
    times >"$TIMES"
    CHILDREN=$(awk 'NR == 2 {
        s = 0
        for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
        printf "%.2f", s }' "$TIMES")
}
commas() { tr ' ' ',' <<<"$1"; }

RESULTS="$OUT/last-results.txt"
TMP="$OUT/run.$$.txt" TIMES="$OUT/times.$$"
trap 'rm -f "$TMP" "$TIMES"' EXIT
{
    echo
    echo "== machine: $NPROC CPUs, $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)"
    echo "== load at start: $(uptime)"
    echo "== photos: $N_PHOTOS of ${PHOTO_W}x$PHOTO_H JPEG q$PHOTO_Q from $PHOTOS; $REPEATS encodes each; niceness $NICE"
} | tee "$TMP"
load_start=$(cut -d' ' -f1 /proc/loadavg)
children_seconds; c0=$CHILDREN b0=$(busy_seconds) t0=$EPOCHREALTIME
nice -n "$NICE" "$PY" -u "$HELPER" "$PHOTOS" --photos "$N_PHOTOS" --repeats "$REPEATS" \
    --widths "$(commas "$WIDTHS")" --avif-qualities "$(commas "$AVIF_QUALITIES")" \
    --avif-speeds "$(commas "$AVIF_SPEEDS")" --shop "$SHOP" | tee -a "$TMP"
children_seconds; c1=$CHILDREN b1=$(busy_seconds) t1=$EPOCHREALTIME
others=$(awk -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v n="$NPROC" 'BEGIN {
    o = (b1 - b0 - (c1 - c0)) / ((t1 - t0) * n) * 100; if (o < 0) o = 0; if (o > 100) o = 100; printf "%.0f", o }')
{
    echo
    echo "== load at end: $(uptime)"
    printf '== measured in %.0f s; other processes used %s%% of the %s CPUs meanwhile\n' \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$others" "$NPROC"
    if (( others > 25 )) || awk -v l="$load_start" -v n="$NPROC" 'BEGIN { exit !(l > n / 2) }'; then
        echo "note: the machine was busy: timings are noisy. The ms are CPU time (least of $REPEATS), which load"
        echo "      moves less than wall time, but shared caches and clock speed still move them; run again when idle."
    fi
} | tee -a "$TMP"
mv "$TMP" "$RESULTS"
say "results saved in $RESULTS"
