#!/usr/bin/env bash
# infra/tests/smoke-test.sh: infra/smoke.sh against the local stack.
#
# Builds the site with GENERATOR_BIN, starts the api (API_BIN) with the
# embedded default store (the content folder, copied to a temporary folder:
# no database, so the test does not touch the local PostgreSQL pair), and puts
# infra/local/edge.py in front of both as CloudFront + the ALB would be, with
# a throwaway CA. Then:
#   1. smoke.sh passes against it;
#   2. for every header edge.yaml's SecurityHeaders policy sets, the stand-in
#      restarted without that header makes smoke.sh fail, naming that check
#      (Strict-Transport-Security: the `hsts` checks), and nothing else;
#   3. the stand-in restarted without the HTTP -> HTTPS redirect makes
#      smoke.sh fail naming the `redirect` checks, and nothing else.
# Also: shellcheck of smoke.sh and this script, edge.py's two YAML readers
# agree on edge.yaml, edge.py refuses a policy setting it does not emulate,
# and smoke.sh refuses bad usage.
#
# Environment: GENERATOR_BIN, API_BIN (default: $CARGO_TARGET_DIR or target/,
# debug), PYTHON (default python3). DATABASE_URL and the AWS settings are
# ignored (unset for the api). SMOKE_TEST_KEEP=1 keeps the temporary folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
generator="${GENERATOR_BIN:-$target/debug/generator}"
api_bin="${API_BIN:-$target/debug/api}"
python="${PYTHON:-python3}"
smoke="$root/infra/smoke.sh"
edge_py="$root/infra/local/edge.py"

say() { printf '[smoke-test] %s\n' "$*"; }
problems=()
problem() {
    printf '[smoke-test] PROBLEM: %s\n' "$*"
    problems+=("$*")
}

for bin in "$generator" "$api_bin"; do
    [[ -x "$bin" ]] || { say "no executable $bin (set GENERATOR_BIN and API_BIN)"; exit 1; }
done
for tool in curl openssl "$python"; do
    command -v "$tool" >/dev/null || { say "$tool is needed"; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/smoke-test.XXXXXX")"
api_pid=""
edge_pid=""
stop_edge() {
    if [[ -n "$edge_pid" ]]; then
        kill -TERM "$edge_pid" 2>/dev/null || true
        wait "$edge_pid" 2>/dev/null || true
        edge_pid=""
    fi
}
cleanup() {
    local rc=$?
    stop_edge
    if [[ -n "$api_pid" ]]; then
        kill -TERM "$api_pid" 2>/dev/null || true
        wait "$api_pid" 2>/dev/null || true
    fi
    if [[ "${SMOKE_TEST_KEEP:-}" == 1 ]]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS

# --- static checks --------------------------------------------------------------------
say "bash -n and shellcheck: infra/smoke.sh, infra/tests/smoke-test.sh"
for f in "$smoke" "$root/infra/tests/smoke-test.sh"; do
    bash -n "$f" || problem "bash -n $f failed"
done
if command -v shellcheck >/dev/null; then
    shellcheck "$smoke" "$root/infra/tests/smoke-test.sh" || problem "shellcheck found problems"
else
    problem "shellcheck is not installed (Debian: apt-get install shellcheck); the test command installs it"
fi

say "edge.py: the policy headers edge.yaml declares"
"$python" "$edge_py" --print-headers >"$work/policy.txt" 2>"$work/policy.err" \
    || { cat "$work/policy.err"; problem "edge.py cannot read edge.yaml"; }
sed 's/^/    /' "$work/policy.txt"
sed 's/^edge: /    /' "$work/policy.err"
if "$python" "$edge_py" --print-headers --yaml-parser pyyaml >"$work/policy-pyyaml.txt" 2>/dev/null; then
    "$python" "$edge_py" --print-headers --yaml-parser mini >"$work/policy-mini.txt" 2>"$work/policy-mini.err" || true
    if cmp -s "$work/policy-pyyaml.txt" "$work/policy-mini.txt"; then
        say "edge.py: its built-in YAML reader and PyYAML agree"
    else
        cat "$work/policy-mini.err"
        diff "$work/policy-pyyaml.txt" "$work/policy-mini.txt" || true
        problem "edge.py's built-in YAML reader and PyYAML read edge.yaml differently"
    fi
else
    say "PyYAML is not available: the built-in YAML reader is not compared with it"
fi

say "edge.py: refuses a policy setting it does not emulate"
awk '{ print } /SecurityHeadersConfig:/ { match($0, /^ */); printf "%*sNotEmulated: { Override: true }\n", RLENGTH + 2, "" }' \
    "$root/infra/cloudformation/edge.yaml" >"$work/edge-unknown.yaml"
if "$python" "$edge_py" --print-headers --template "$work/edge-unknown.yaml" >/dev/null 2>"$work/unknown.err"; then
    problem "edge.py accepted SecurityHeadersConfig.NotEmulated"
elif grep -q 'NotEmulated' "$work/unknown.err"; then
    say "  refused: $(sed 's/^edge: //' "$work/unknown.err" | tail -n 1)"
else
    problem "edge.py failed on an unknown setting without naming it: $(cat "$work/unknown.err")"
fi

say "smoke.sh: refuses bad usage"
for bad in "http://shop.example.com" "https://www.example.com"; do
    rc=0
    "$smoke" "$bad" >"$work/usage.out" 2>&1 || rc=$?
    if [[ $rc == 2 ]]; then
        say "  $bad: exit 2, $(tail -n 1 "$work/usage.out")"
    else
        problem "smoke.sh $bad exited $rc, not 2"
    fi
done

# --- the local stack --------------------------------------------------------------------
say "building the site: $generator build --source content --out $work/site"
"$generator" build --source content --content "$root/content" --themes "$root/themes" \
    --out "$work/site" >"$work/build.log" 2>&1 || { cat "$work/build.log"; say "the build failed"; exit 1; }
sed 's/^/    /' "$work/build.log" | tail -n 2

say "starting the api (embedded default store: a copy of content/, no database)"
cp -R "$root/content" "$work/content"
mkdir -p "$work/state"
(
    cd "$work"
    exec env -u DATABASE_URL -u DATABASE_REPLICA_URL -u S3_BUCKET -u CLOUDFRONT_DISTRIBUTION_ID \
        API_ADDR=127.0.0.1:0 API_NO_WORKER=1 STATE_DIR="$work/state" \
        CONTENT_DIR="$work/content" THEMES_DIR="$root/themes" TRUSTED_PROXIES=127.0.0.1/32 \
        SESSION_SECRET="smoke-test-session-secret-$RANDOM$RANDOM$RANDOM-0123456789" LOG_FORMAT=text \
        "$api_bin"
) >"$work/api.log" 2>&1 &
api_pid=$!
api_url=""
for _ in $(seq 1 300); do
    api_url="$(sed -n 's/^api listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/api.log" | head -n 1)"
    [[ -n "$api_url" ]] && break
    kill -0 "$api_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$api_url" ]]; then
    cat "$work/api.log"
    say "the api did not start"
    exit 1
fi
code="$(curl -s -o /dev/null -w '%{http_code}' "$api_url/readyz" || true)"
say "  api on $api_url, /readyz $code"

https_port=""
http_port=""
ca=""
edge_runs=0
# start_edge ARGS...: (re)starts the stand-in in front of the site and the api.
start_edge() {
    stop_edge
    edge_runs=$((edge_runs + 1))
    local log="$work/edge-$edge_runs.log"
    rm -f "$work/edge.ready"
    "$python" "$edge_py" --site "$work/site" --api "$api_url" --tls-dir "$work/tls" \
        --https-port 0 --http-port 0 --ready-file "$work/edge.ready" "$@" >"$log" 2>&1 &
    edge_pid=$!
    for _ in $(seq 1 200); do
        [[ -s "$work/edge.ready" ]] && break
        kill -0 "$edge_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ ! -s "$work/edge.ready" ]]; then
        cat "$log"
        say "the edge stand-in did not start"
        exit 1
    fi
    https_port="$(sed -n 's/^https_port=//p' "$work/edge.ready")"
    http_port="$(sed -n 's/^http_port=//p' "$work/edge.ready")"
    ca="$(sed -n 's/^ca=//p' "$work/edge.ready")"
    say "  edge stand-in ${*:-(as the template says)}: https :$https_port, http :$http_port"
}
# run_smoke NAME: smoke.sh against the stand-in; output in $work/smoke-NAME.out,
# exit status in smoke_rc.
smoke_rc=0
run_smoke() {
    local name="$1" resolve=() host port
    for host in shop api admin; do
        for port in "$https_port" "$http_port"; do
            resolve+=(--resolve "$host.localhost:$port:127.0.0.1")
        done
    done
    smoke_rc=0
    say "  infra/smoke.sh https://shop.localhost:$https_port --cacert $ca --http-port $http_port --resolve ..."
    "$smoke" "https://shop.localhost:$https_port" --cacert "$ca" --http-port "$http_port" \
        "${resolve[@]}" >"$work/smoke-$name.out" 2>&1 || smoke_rc=$?
    sed 's/^/    /' "$work/smoke-$name.out"
}
failed_checks() { sed -n 's/^FAIL \([^:]*\):.*/\1/p' "$work/smoke-$1.out" | sort; }

# --- 1. the smoke test passes -------------------------------------------------------------
say "1. smoke.sh against the local stack: must pass"
start_edge
run_smoke baseline
if [[ $smoke_rc == 0 ]]; then
    say "  passed"
else
    problem "smoke.sh failed against the local stack (exit $smoke_rc): $(failed_checks baseline | paste -sd, -)"
fi
failed_checks baseline >"$work/baseline.fails"

# expect_failure NAME SUFFIX MUST...: the run NAME exited 1, each check in MUST
# failed, and every check that failed beyond the baseline's ends in SUFFIX.
expect_failure() {
    local name="$1" suffix="$2" check extra
    shift 2
    if [[ $smoke_rc != 1 ]]; then
        problem "$name: smoke.sh exited $smoke_rc, not 1"
    fi
    for check in "$@"; do
        grep -qx "$check" <(failed_checks "$name") || problem "$name: smoke.sh did not fail the check '$check'"
    done
    extra="$(comm -13 "$work/baseline.fails" <(failed_checks "$name") | grep -v " $suffix\$" || true)"
    [[ -z "$extra" ]] || problem "$name: other checks failed too: $(paste -sd, - <<<"$extra")"
    [[ $smoke_rc != 1 ]] || say "  failed as it should, naming: $(comm -13 "$work/baseline.fails" <(failed_checks "$name") | paste -sd, -)"
}

# --- 2. each policy header missing --------------------------------------------------------
while IFS= read -r line; do
    [[ "$line" == *:* && "$line" != -* ]] || continue
    header="${line%%:*}"
    check="$(tr '[:upper:]' '[:lower:]' <<<"$header")"
    [[ "$check" == strict-transport-security ]] && check=hsts
    if ! grep -qx "ok   shop $check" "$work/smoke-baseline.out" \
        && ! grep -q "^FAIL shop $check:" "$work/smoke-baseline.out"; then
        problem "smoke.sh has no check 'shop $check' for $header, which edge.yaml's SecurityHeaders policy sets"
        continue
    fi
    say "2. the stand-in without $header: smoke.sh must fail 'shop $check'"
    start_edge --drop-header "$header"
    run_smoke "no-$check"
    expect_failure "no-$check" "$check" "shop $check"
done <"$work/policy.txt"

# --- 3. no redirect -----------------------------------------------------------------------
say "3. the stand-in without the HTTP -> HTTPS redirect: smoke.sh must fail the redirect checks"
start_edge --no-redirect
run_smoke no-redirect
expect_failure no-redirect redirect "shop redirect" "api redirect" "admin redirect"
stop_edge

elapsed=$((SECONDS - started))
if ((${#problems[@]} > 0)); then
    say "FAILED in ${elapsed}s:"
    printf '  - %s\n' "${problems[@]}"
    exit 1
fi
say "passed in ${elapsed}s"
