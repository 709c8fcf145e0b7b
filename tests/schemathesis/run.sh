#!/usr/bin/env bash
# Fuzzes the live api against its own OpenAPI spec with schemathesis: every
# operation in /api/openapi.json, with valid and invalid input, as an admin
# (an API token). A 5xx, a status the spec does not list for the operation, a
# body that does not match the documented schema or a Content-Type it does not
# document is a failure, and so is an operation that could not be tested.
#
#   tests/schemathesis/run.sh
#
# Needs DATABASE_URL (the local primary; DATABASE_REPLICA_URL too, if set, is
# used for reads as in production) and the built binaries; scripts/test.sh
# provides both. Makes a database of its own (dropped at the end), loads the
# content folder into it, and serves the api on a free port with the rebuild
# worker publishing to a temporary folder. schemathesis runs from a virtualenv
# under tests/schemathesis/.venv, made on the first run from requirements.txt.
#
# Settings: SCHEMATHESIS_MAX_EXAMPLES (per operation and phase; the default,
# 600, takes about a minute and a quarter on 2 cores), SCHEMATHESIS_SEED
# (default 1), SCHEMATHESIS_REPORT_DIR (keep the JUnit and NDJSON reports
# there), CARGO_TARGET_DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

die() { printf 'tests/schemathesis: %s\n' "$*" >&2; exit 1; }

bin=${CARGO_TARGET_DIR:-$root/target}/debug
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-600}
seed=${SCHEMATHESIS_SEED:-1}
requirements=$here/requirements.txt
venv=$here/.venv

[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set; run ./scripts/test.sh, or start the local pair first: eval \"\$(infra/local/pg.sh start)\""
for exe in api generator; do
  [ -x "$bin/$exe" ] || die "$bin/$exe is missing; run: cargo build --workspace --locked"
done
command -v psql >/dev/null || die "psql is missing; install Debian's postgresql-client"
command -v python3 >/dev/null || die "python3 is missing; install Python 3.11 or later"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "schemathesis needs Python 3.11 or later; this python3 is $(python3 -V 2>&1)"

# The virtualenv, made again whenever requirements.txt changes.
if ! cmp -s "$requirements" "$venv/.requirements" 2>/dev/null; then
  printf 'tests/schemathesis: installing schemathesis into %s\n' "$venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || die "could not make a virtualenv (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || die "pip could not install $requirements"
  cp "$requirements" "$venv/.requirements"
fi

work=$(mktemp -d /tmp/shopfront-schemathesis.XXXXXX)
db=shop_schemathesis_$$_$(date +%s)
# A URL with its database replaced; the query (?sslmode=…&sslrootcert=/…) is kept.
with_db() { # url name
  local url=$1 query=
  case $url in *\?*) query="?${url#*\?}" url=${url%%\?*} ;; esac
  printf '%s/%s%s\n' "${url%/*}" "$2" "$query"
}
admin_url=$DATABASE_URL base=${DATABASE_URL%%\?*}; base=${base%/*}
api_pid= ran=

cleanup() {
  local status=$?
  trap - EXIT
  if [ -n "$api_pid" ] && kill -0 "$api_pid" 2>/dev/null; then
    kill -TERM "$api_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
  fi
  psql -q -X "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 \
    || printf 'tests/schemathesis: could not drop the database %s\n' "$db" >&2
  if [ "$status" != 0 ] && [ -s "$work/api.log" ]; then
    if [ -n "$ran" ]; then
      printf '\ntests/schemathesis: errors and warnings in the api log:\n' >&2
      grep -E ' (ERROR|WARN) ' "$work/api.log" | sort -k2 | uniq -f1 | head -n 20 >&2 || true
    else
      printf '\ntests/schemathesis: the last lines of the api log:\n' >&2
      tail -n 15 "$work/api.log" >&2
    fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null \
  || die "could not create the database $db on $base"
DATABASE_URL=$(with_db "$DATABASE_URL" "$db")
export DATABASE_URL
if [ -n "${DATABASE_REPLICA_URL:-}" ]; then
  DATABASE_REPLICA_URL=$(with_db "$DATABASE_REPLICA_URL" "$db")
  export DATABASE_REPLICA_URL
fi

"$bin/generator" migrate >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; die "generator migrate failed"; }
"$bin/generator" import >>"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; die "generator import failed"; }
products=$(psql -X -At "$DATABASE_URL" -c "SELECT count(*) FROM products")
[ "$products" -gt 0 ] || die "the import loaded no products"

# Reads go to the replica: start once it has replayed the import.
if [ -n "${DATABASE_REPLICA_URL:-}" ]; then
  lsn=$(psql -X -At "$DATABASE_URL" -c "SELECT pg_current_wal_lsn()")
  for _ in $(seq 100); do
    caught_up=$(psql -X -At "$DATABASE_REPLICA_URL" \
      -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null || true)
    [ "$caught_up" = t ] && break
    sleep 0.1
  done
  [ "$caught_up" = t ] || die "the replica did not replay the import within 10 s"
fi

email=schemathesis@shop.example
echo 'schemathesis admin password' | "$bin/api" admin create-user --email "$email" >/dev/null \
  || die "api admin create-user failed"
token=$("$bin/api" admin create-token --email "$email" --name schemathesis 2>/dev/null) \
  || die "api admin create-token failed"
[[ $token == sft_* ]] || die "api admin create-token printed no token"

# Published to a folder of its own, whatever S3 settings are in the environment.
mkdir -p "$work/public"
: >"$work/api.out"
env -u S3_BUCKET -u CLOUDFRONT_DISTRIBUTION_ID -u API_NO_WORKER \
  API_ADDR=127.0.0.1:0 PUBLISH_DIR="$work/public" NO_COLOR=1 \
  SESSION_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n') \
  "$bin/api" serve >"$work/api.out" 2>"$work/api.log" &
api_pid=$!
api=
for _ in $(seq 300); do
  api=$(sed -n 's/^api listening on \(http:[^ ]*\)$/\1/p' "$work/api.out")
  [ -n "$api" ] && break
  kill -0 "$api_pid" 2>/dev/null || die "the api exited before it listened"
  sleep 0.1
done
[ -n "$api" ] || die "the api did not listen within 30 s"
curl -fsS "$api/readyz" >/dev/null || die "$api/readyz did not answer 200"
# A token the api refuses would turn every write into a (documented) 401.
auth=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$api/api/rebuilds")
[ "$auth" = 200 ] || die "GET /api/rebuilds with the admin token answered $auth, not 200"

# A login token and its cookie, so that POST /api/session gets past the login
# form's CSRF check and its limits are fuzzed too.
login=$(curl -fsS -D "$work/login.headers" "$api/api/session/login-token") \
  || die "GET /api/session/login-token did not answer 200"
login_token=$(printf '%s' "$login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["csrf_token"])')
login_cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' "$work/login.headers" | head -n 1)
[ -n "$login_cookie" ] || die "GET /api/session/login-token set no cookie"

spec_operations=$(curl -fsS "$api/api/openapi.json" | python3 -c '
import json, sys
spec = json.load(sys.stdin)
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
print(sum(1 for item in spec["paths"].values() for m in item if m in methods))')
[ "$spec_operations" -gt 0 ] || die "the spec at $api/api/openapi.json lists no operations"
last_id=$(psql -X -At "$DATABASE_URL" -c "SELECT max(product_id) FROM products")

report=${SCHEMATHESIS_REPORT_DIR:-$work/report}
mkdir -p "$report"
printf 'tests/schemathesis: %s operations at %s/api/openapi.json, %s products; seed %s, at most %s examples per operation and phase\n' \
  "$spec_operations" "$api" "$products" "$seed" "$max_examples"
started=$(date +%s)
status=0
ran=1
# Neither hypothesis's database nor schemathesis's cache (schemathesis.toml):
# every run starts from the seed alone.
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$api/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --header "Cookie: $login_cookie" \
  --header "X-CSRF-Token: $login_token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing,stateful \
  --mode all \
  --max-examples "$max_examples" \
  --seed "$seed" \
  --generation-database none \
  --workers 1 \
  --request-timeout 10 \
  --no-color \
  --report junit,ndjson --report-junit-path "$report/junit.xml" \
  --report-ndjson-path "$report/events.ndjson" \
  || status=$?
elapsed=$(($(date +%s) - started))

# What the run wrote: proof that the write routes were exercised, not only refused.
writes=$(psql -X -At -F ' ' "$DATABASE_URL" -c "
  SELECT count(*) FILTER (WHERE product_id > $last_id),
         count(*) FILTER (WHERE product_id <= $last_id AND version > 1),
         $products - count(*) FILTER (WHERE product_id <= $last_id)
  FROM products")
read -r created updated deleted <<<"$writes"

# The summary, from the JUnit report: one test case per operation, and one
# for the stateful phase.
"$venv/bin/python" - "$report/junit.xml" "$spec_operations" "$elapsed" "$status" \
  "$created" "$updated" "$deleted" <<'PY' || status=1
import sys
import xml.etree.ElementTree as ET

path = sys.argv[1]
expected, elapsed, status, created, updated, deleted = map(int, sys.argv[2:])
try:
    cases = list(ET.parse(path).getroot().iter("testcase"))
except (OSError, ET.ParseError) as e:
    print(f"tests/schemathesis: no report ({e})")
    sys.exit(1)

def outcome(case):
    for kind in ("failure", "error", "skipped"):
        if case.find(kind) is not None:
            return kind
    return "passed"

by = {}
for case in cases:
    by.setdefault(outcome(case), []).append(case.get("name"))
operations = [c for c in cases if c.get("name") != "Stateful tests"]
passed = len(by.get("passed", []))
failed = len(by.get("failure", [])) + len(by.get("error", [])) + len(by.get("skipped", []))
print(f"\nschemathesis: {len(operations)} of {expected} operations and the stateful phase, in {elapsed} s;"
      f" products created {created}, updated {updated}, deleted {deleted}")
for kind in ("failure", "error", "skipped"):
    for name in by.get(kind, []):
        print(f"  {kind}: {name}")
problems = []
if len(operations) < expected:
    problems.append(f"only {len(operations)} of the spec's {expected} operations were tested")
if len(cases) == len(operations):
    problems.append("the stateful phase did not run")
if created == 0:
    problems.append("no product was created: the write routes were not exercised")
if status != 0 and not failed:
    problems.append(f"schemathesis exited with {status}")
for p in problems:
    print(f"tests/schemathesis: {p}")
print(f"schemathesis: {passed} passed, {failed} failed")
sys.exit(1 if failed or problems or status != 0 else 0)
PY
exit "$status"
