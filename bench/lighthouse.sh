#!/usr/bin/env bash
# Lighthouse audit of the storefront: builds the site with the release binary,
# serves it on 127.0.0.1, and runs Lighthouse in Debian's headless Chromium on
# the home page and one product page (one on sale, if any is), with the
# default (mobile) config and with --preset=desktop. Prints the four category
# scores (x100) as a table, and the audits that pull a category down.
#
#   bench/lighthouse.sh
#
# Settings (environment):
#   CHROME_PATH            Chromium binary (default /usr/bin/chromium; never downloaded)
#   LIGHTHOUSE_OUT         where the JSON reports go (default bench/out/lighthouse)
#   LIGHTHOUSE_PORT        port for the static server (default: a free one)
#   LIGHTHOUSE_MIN_SCORE   if set (0-100), exit 1 when any category scores below it
#   LIGHTHOUSE_TIMEOUT     seconds one Lighthouse run may take before it is killed (default 300)
#   BENCH_SKIP_CARGO=1     use the existing release binary instead of running cargo build
#   CARGO_TARGET_DIR       honoured, as cargo does
#   LIGHTHOUSE_CONTENT     the content folder to build (default content/; e.g. the
#                          photo shop bench/images.sh makes, kept with BENCH_KEEP=1)
#
# Lighthouse is installed from bench/package.json + package-lock.json into
# bench/node_modules (npm ci) when it is missing or not the pinned version.
# Lighthouse 12.x is used because 13.x needs Node >= 22.19.
#
# The machine has no internet: nothing here needs it. The site is served by
# python3 -m http.server (no compression, no cache headers), so the numbers are
# for the pages themselves, not for a production host.
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$BENCH_DIR/.." && pwd)
OUT_DIR=${LIGHTHOUSE_OUT:-$BENCH_DIR/out/lighthouse}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
GENERATOR=$TARGET_DIR/release-lto/generator
RUN_TIMEOUT=${LIGHTHOUSE_TIMEOUT:-300}
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
CHROME_FLAGS="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in node npm python3 curl timeout; do
  command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done
[[ -x $CHROME_PATH ]] || die "Chromium not found at $CHROME_PATH (apt-get install chromium, or set CHROME_PATH)"

# --- cleanup: stop the server and remove the temp site, however we exit -------
SERVER_PID=""
WORK_DIR=""
LH_PID=""
cleanup() {
  local status=$?
  trap - INT TERM
  # A Lighthouse run still going: SIGINT lets it close its Chromium first.
  if [[ -n $LH_PID ]] && kill -0 "$LH_PID" 2>/dev/null; then
    kill -INT "$LH_PID" 2>/dev/null || true
    wait "$LH_PID" 2>/dev/null || true
  fi
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  [[ -n $WORK_DIR ]] && rm -rf -- "$WORK_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- lighthouse, pinned in bench/package-lock.json -----------------------------
wanted=$(node -p 'require(process.argv[1]).devDependencies.lighthouse' "$BENCH_DIR/package.json")
have=$(node -p 'try { require(process.argv[1]).version } catch { "" }' \
  "$BENCH_DIR/node_modules/lighthouse/package.json" 2>/dev/null || true)
if [[ $have != "$wanted" ]]; then
  log "installing lighthouse $wanted into bench/node_modules"
  npm ci --prefix "$BENCH_DIR" --no-audit --no-fund --loglevel=error >&2
fi
LIGHTHOUSE=$BENCH_DIR/node_modules/.bin/lighthouse
[[ -x $LIGHTHOUSE ]] || die "lighthouse was not installed at $LIGHTHOUSE"

# --- build the site with the release binary ------------------------------------
if [[ ${BENCH_SKIP_CARGO:-0} != 1 ]]; then
  log "cargo build --profile release-lto -p generator"
  (cd "$REPO_ROOT" && cargo build --profile release-lto --quiet -p generator) \
    || die "cargo build --profile release-lto -p generator failed (or set BENCH_SKIP_CARGO=1 to use the existing binary)"
fi
[[ -x $GENERATOR ]] || die "$GENERATOR is missing; run: cargo build --profile release-lto -p generator"

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shopfront-lighthouse.XXXXXX")
SITE_DIR=$WORK_DIR/site
log "building the site into $SITE_DIR"
(cd "$REPO_ROOT" && CI=1 "$GENERATOR" build --content "${LIGHTHOUSE_CONTENT:-$REPO_ROOT/content}" --themes "$REPO_ROOT/themes" --out "$SITE_DIR" >&2)

# The product page audited is one on sale, so the sale price, its badge and
# the call to action are measured too (the first product when none is).
PRODUCT_PATH=$(node -p 'const ps = require(process.argv[1]).products; (ps.find((p) => p.on_sale) || ps[0]).url' "$SITE_DIR/products.json")
[[ $PRODUCT_PATH == /* ]] || die "products.json has no product url (got '$PRODUCT_PATH')"

# --- serve it -------------------------------------------------------------------
PORT=${LIGHTHOUSE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}
ORIGIN=http://127.0.0.1:$PORT
python3 -m http.server --bind 127.0.0.1 "$PORT" --directory "$SITE_DIR" >"$WORK_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 2 "$ORIGIN/" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "the static server exited: $(cat "$WORK_DIR/server.log")"
  sleep 0.1
done
curl -fsS -o /dev/null --max-time 5 "$ORIGIN/" || die "the static server at $ORIGIN does not answer"
log "serving $SITE_DIR at $ORIGIN"

# --- run lighthouse -------------------------------------------------------------
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.report.json
REPORTS=()
for page in home product; do
  case $page in
    home) url=$ORIGIN/ ;;
    product) url=$ORIGIN$PRODUCT_PATH ;;
  esac
  for preset in mobile desktop; do
    report=$OUT_DIR/$page-$preset.report.json
    args=(
      "$url"
      --quiet
      --output=json
      --output-path="$report"
      --chrome-flags="$CHROME_FLAGS"
      --only-categories=performance,accessibility,best-practices,seo
      --max-wait-for-load=45000
      --disable-full-page-screenshot
    )
    [[ $preset == desktop ]] && args+=(--preset=desktop)
    log "lighthouse $page ($preset): $url"
    # In the background and waited for, so Ctrl-C / TERM reach the traps at
    # once; timeout sends SIGINT first so Lighthouse closes its Chromium.
    timeout -s INT --kill-after=30 "$RUN_TIMEOUT" "$LIGHTHOUSE" "${args[@]}" &
    LH_PID=$!
    rc=0
    wait "$LH_PID" || rc=$?
    LH_PID=""
    ((rc == 0)) || die "lighthouse failed (exit $rc; 124 = timed out after ${RUN_TIMEOUT}s) for $page ($preset)"
    [[ -s $report ]] || die "lighthouse wrote no report for $page ($preset)"
    REPORTS+=("$report")
  done
done

# --- summarise ------------------------------------------------------------------
node - "${LIGHTHOUSE_MIN_SCORE:-}" "${REPORTS[@]}" <<'EOF'
const fs = require("fs");
const path = require("path");
const [minArg, ...files] = process.argv.slice(2);
const cats = [
  ["performance", "Performance"],
  ["accessibility", "Accessibility"],
  ["best-practices", "Best Practices"],
  ["seo", "SEO"],
];
const pct = (s) => (s === null || s === undefined ? "n/a" : String(Math.round(s * 100)));
const rows = [];
const problems = [];
let worst = 100;
for (const file of files) {
  const lhr = JSON.parse(fs.readFileSync(file, "utf8"));
  const [page, preset] = path.basename(file, ".report.json").split("-");
  const row = [page, preset];
  for (const [id] of cats) {
    const cat = lhr.categories[id];
    row.push(pct(cat && cat.score));
    if (!cat || cat.score === null) { worst = -1; continue; }
    worst = Math.min(worst, Math.round(cat.score * 100));
    for (const ref of cat.auditRefs) {
      const a = lhr.audits[ref.id];
      if (!a || ref.weight === 0 || a.score === null || a.score >= 0.9) continue;
      if (a.scoreDisplayMode === "notApplicable" || a.scoreDisplayMode === "manual" || a.scoreDisplayMode === "informative") continue;
      problems.push(`${page}/${preset} ${id}: ${a.id} (score ${pct(a.score)}, weight ${ref.weight}) ${a.title}${a.displayValue ? " - " + a.displayValue : ""}`);
    }
  }
  if (lhr.runWarnings && lhr.runWarnings.length) {
    for (const w of lhr.runWarnings) problems.push(`${page}/${preset} warning: ${w}`);
  }
  rows.push(row);
}
const head = ["Page", "Preset", ...cats.map(([, name]) => name)];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log("");
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
console.log("");
if (problems.length) {
  console.log("Audits scoring below 90 (weighted) and run warnings:");
  for (const p of problems) console.log("  " + p);
} else {
  console.log("No weighted audit scores below 90.");
}
console.log(`Reports: ${path.dirname(files[0])}/`);
if (minArg !== "" && worst < Number(minArg)) {
  console.error(`error: a category scored ${worst}, below LIGHTHOUSE_MIN_SCORE=${minArg}`);
  process.exit(1);
}
EOF
