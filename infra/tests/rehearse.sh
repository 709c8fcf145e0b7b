#!/usr/bin/env bash
# The boot rehearsal: runs infra/boot/boot.sh on this machine as an instance
# would run it, against the local stack: the release and boot.sh from moto's
# S3, the secrets from moto's Secrets Manager, migrate against the local
# TLS-only PostgreSQL pair, and the api it starts answering /readyz.
#
#   infra/tests/rehearse.sh
#
# Run by scripts/test.sh once the local stack is up; it reads what that
# exports: DATABASE_URL, DATABASE_REPLICA_URL (superuser URLs with
# sslmode=verify-full&sslrootcert=...), PG_CA_CERT, AWS_ENDPOINT_URL,
# AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_BUCKET,
# CLOUDFRONT_DISTRIBUTION_ID, GENERATOR_BIN and API_BIN. To run it alone:
#
#   eval "$(infra/local/pg.sh start)" && eval "$(infra/local/moto.sh start)"
#   GENERATOR_BIN=target/debug/generator API_BIN=target/debug/api infra/tests/rehearse.sh
#
# Steps: the static checks (bash -n and shellcheck on boot.sh and this file,
# systemd-analyze verify on the unit, logrotate -d on its config, the
# CloudWatch agent's config), a release tarball in the release layout, a fresh
# database with an owner whose password is full of shell metacharacters, the
# three secrets, two boots at once on the fresh database (migrate under its
# lock), checks of what they wrote and started, a second boot over the first,
# and boots that must fail naming their step. Everything it makes (the apis,
# the database and its roles, the bucket, the secrets, the temp folder) is
# removed at the end, also on failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
repo=$PWD
export LC_ALL=C

current=setup
say() { printf 'rehearse: %s\n' "$*"; }
step() {
  current=$1
  say "step $1 (at ${SECONDS}s)"
}
work=
fail() {
  printf 'rehearse: step %s failed: %s\n' "$current" "$*" >&2
  show_api_logs >&2
  exit 1
}
show_api_logs() {
  [ -n "$work" ] || return 0
  local log
  for log in "$work"/root-*/var/log/shopfront-api.log; do
    [ -s "$log" ] || continue
    printf -- '--- the end of %s:\n' "$log"
    tail -n 20 "$log"
  done
}

need_debian_package() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $2 (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; } \
      || fail "apt-get could not install $2"
  else
    fail "$1 is missing; install Debian's $2 package (sudo apt-get install $2) and run again"
  fi
}

for name in DATABASE_URL DATABASE_REPLICA_URL PG_CA_CERT AWS_ENDPOINT_URL AWS_REGION \
  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_BUCKET GENERATOR_BIN API_BIN; do
  [ -n "${!name:-}" ] || fail "$name is not set (scripts/test.sh exports it; see the top of $0)"
done
{ [ -x "$GENERATOR_BIN" ] && [ -x "$API_BIN" ]; } || fail "GENERATOR_BIN and API_BIN must be the debug binaries"
[ -f "$PG_CA_CERT" ] || fail "PG_CA_CERT ($PG_CA_CERT) is not a file"

# ---------------------------------------------------------------------------
# Cleanup: everything made below is noted here.
bucket=
secrets=()
db=
roles=()
cleanup() {
  local status=$? pid_file pid
  set +e
  if [ -n "$work" ]; then
    for pid_file in "$work"/root-*/run/shopfront-api.pid; do
      [ -f "$pid_file" ] || continue
      pid=$(cat "$pid_file")
      if [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$work/"* ]]; then
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
      fi
    done
  fi
  if [ -n "$db" ]; then
    psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -v db="$db" >/dev/null 2>&1 <<'SQL' || say "warning: could not drop the database $db"
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
SQL
  fi
  local role
  for role in "${roles[@]}"; do
    psql -q "$DATABASE_URL" -v role="$role" >/dev/null 2>&1 <<'SQL' || say "warning: could not drop the role $role"
DROP ROLE IF EXISTS :"role";
SQL
  done
  # The aws CLI takes a second to start: these go at once.
  local id jobs=()
  for id in "${secrets[@]}"; do
    aws_local secretsmanager delete-secret --secret-id "$id" --force-delete-without-recovery >/dev/null 2>&1 &
    jobs+=($!)
  done
  if [ -n "$bucket" ]; then
    { aws_local s3 rb --force "s3://$bucket" >/dev/null 2>&1 || say "warning: could not remove the bucket $bucket"; } &
    jobs+=($!)
  fi
  [ "${#jobs[@]}" = 0 ] || wait "${jobs[@]}"
  [ -n "$work" ] && rm -rf "$work"
  if [ "$status" = 0 ]; then say "passed in ${SECONDS}s"; else say "FAILED in step $current (after ${SECONDS}s)" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

aws_local() { aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$AWS_REGION" "$@"; }
random_hex() { python3 -c 'import secrets, sys; print(secrets.token_hex(int(sys.argv[1])))' "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
url_part() { # url port|host
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(getattr(p, sys.argv[2]))' "$1" "$2"
}

# ---------------------------------------------------------------------------
step tools
command -v python3 >/dev/null || fail "python3 is missing"
need_debian_package curl curl
need_debian_package psql postgresql-client
need_debian_package shellcheck shellcheck
need_debian_package systemd-analyze systemd
need_debian_package logrotate logrotate
# boot.sh calls the real aws CLI (v2 on the instance). Use the one on PATH if
# it runs; else one of our own, in a virtualenv beside infra/check.sh's.
if ! aws --version >/dev/null 2>&1; then
  venv=$repo/infra/.venv/awscli
  want=awscli==1.45.11
  if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
    say "installing $want into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail "could not make a virtualenv (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$want" >&2 || fail "pip could not install $want"
    echo "$want" >"$venv/.requirements"
  fi
  export PATH=$venv/bin:$PATH
fi
say "$(aws --version 2>&1 | head -n 1)"
work=$(mktemp -d /tmp/shopfront-rehearsal.XXXXXX) || fail "could not make a temp folder"
chmod 0755 "$work"

# ---------------------------------------------------------------------------
step lint
for script in infra/boot/boot.sh infra/tests/rehearse.sh; do
  bash -n "$script" || fail "bash -n $script"
  shellcheck "$script" || fail "shellcheck $script"
done
say "bash -n and shellcheck: boot.sh and rehearse.sh are clean"

step unit
# systemd-analyze checks that ExecStart's binary exists: the unit is verified
# with its /opt/shopfront paths moved under a stand-in root, nothing else changed.
verify=$work/verify
mkdir -p "$verify/opt/shopfront/current/bin" || fail "cannot make $verify"
cp "$API_BIN" "$verify/opt/shopfront/current/bin/api" || fail "cannot copy the api"
sed "s#/opt/shopfront/#$verify/opt/shopfront/#g" infra/boot/shopfront-api.service >"$verify/shopfront-api.service"
diff <(sed "s#$verify/opt/shopfront/#/opt/shopfront/#g" "$verify/shopfront-api.service") infra/boot/shopfront-api.service >/dev/null \
  || fail "the unit's copy differs from infra/boot/shopfront-api.service by more than its paths"
out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$verify/shopfront-api.service" 2>&1)
verified=$?
{ [ "$verified" = 0 ] && [ -z "$out" ]; } || fail "systemd-analyze verify shopfront-api.service (status $verified): $out"
rm -f "$verify/opt/shopfront/current/bin/api"
say "systemd-analyze verify: shopfront-api.service is clean"

step logrotate
mkdir -p "$verify/var/log" || fail "cannot make $verify/var/log"
# (Not as root, logrotate cannot switch to root: the copy drops `su root root`.)
if [ "$(id -u)" = 0 ]; then not_root=; else not_root='/^ *su root root$/d;'; fi
sed "${not_root}s#/var/log/#$verify/var/log/#g" infra/boot/shopfront-api.logrotate >"$verify/logrotate.conf"
printf 'a line\n' >"$verify/var/log/shopfront-api.log"
chmod 0644 "$verify/logrotate.conf"
out=$(logrotate -d -s "$verify/logrotate.state" "$verify/logrotate.conf" 2>&1)
rotated=$?
[ "$rotated" = 0 ] || fail "logrotate -d (status $rotated): $out"
grep -qi 'error' <<<"$out" && fail "logrotate -d reports an error: $out"
# And a forced rotation for real, in the stand-in root: copied, compressed, truncated.
out=$(logrotate -f -s "$verify/logrotate.state" "$verify/logrotate.conf" 2>&1) || fail "logrotate -f: $out"
{ [ -f "$verify/var/log/shopfront-api.log.1.gz" ] && [ ! -s "$verify/var/log/shopfront-api.log" ]; } \
  || fail "logrotate -f did not copy, compress and truncate the api log: $(ls "$verify/var/log")"
say "logrotate: shopfront-api.logrotate is clean and rotates by copytruncate"

step agent-config
python3 -m json.tool infra/boot/cloudwatch-agent.json >/dev/null || fail "infra/boot/cloudwatch-agent.json is not JSON"
# boot.sh carries the same text (it writes the config before it has the release).
diff <(sed -n "/cat <<'JSON'\$/,/^JSON\$/p" infra/boot/boot.sh | sed '1d;$d') infra/boot/cloudwatch-agent.json \
  || fail "the agent config in boot.sh and infra/boot/cloudwatch-agent.json differ (above)"
say "cloudwatch-agent.json is JSON, and boot.sh writes the same"

# ---------------------------------------------------------------------------
step release
arch=$(uname -m)
name=rehearsal-$(date -u +%Y%m%d%H%M%S)-$$
bucket=shopfront-rehearsal-$$-$(random_hex 4)
prefix=shopfront/releases/$name/
release=s3://$bucket/$prefix
# The release as infra/release.sh packs it, from the test build's binaries,
# with the local pair's CA in the place of RDS's bundle.
infra/release.sh --generator-bin "$GENERATOR_BIN" --api-bin "$API_BIN" --rds-ca "$PG_CA_CERT" \
  --out "$work/dist" >"$work/release.log" 2>&1 || { cat "$work/release.log" >&2; fail "infra/release.sh could not pack the release"; }
tarball=$work/dist/shopfront-$arch.tar.gz
for file in "$tarball" "$tarball.sha256" "$work/dist/boot.sh"; do
  [ -s "$file" ] || fail "infra/release.sh did not make $file"
done
aws_local s3 mb "s3://$bucket" >/dev/null || fail "could not make the bucket $bucket in moto"
for file in "$tarball" "$tarball.sha256" "$work/dist/boot.sh"; do
  aws_local s3 cp --only-show-errors "$file" "$release$(basename "$file")" || fail "could not upload $file"
done
say "uploaded $(du -h "$tarball" | cut -f1) shopfront-$arch.tar.gz, its .sha256 and boot.sh to $release"

# ---------------------------------------------------------------------------
step database
db=shop_rehearsal_$$
owner=shopfront_owner_$(random_hex 4)
api_user=shopfront_api_$(random_hex 4)
roles=("$api_user" "$owner")
# Shell metacharacters, quotes, backslashes and %-escapes; not / @ " or a
# space, as RDS allows in generated passwords.
password() { # the start of a password; a random end is added
  python3 -c 'import secrets, sys; print(sys.argv[1] + secrets.token_urlsafe(12))' "$1"
}
# shellcheck disable=SC2016 # the $, ` and \ are meant literally
owner_password=$(password 'O1$(x)`y`;&|<>'"'"'\!#*?[]{}~^=+,.:%41%2F')
# shellcheck disable=SC2016
api_password=$(password 'A2'"'"';$HOME`id`&&||>x<y\%25%%(){}[]*?!#~^=+,.:')
session_secret=$(random_hex 24)
psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -v db="$db" -v owner="$owner" -v pw="$owner_password" <<'SQL' \
  || fail "could not make the database $db and its owner on the local primary"
CREATE ROLE :"owner" LOGIN CREATEROLE PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"owner";
SQL
{ db_port=$(url_part "$DATABASE_URL" port) && replica_port=$(url_part "$DATABASE_REPLICA_URL" port); } \
  || fail "could not read the ports of DATABASE_URL and DATABASE_REPLICA_URL"
say "database $db on port $db_port (replica $replica_port), owner $owner"

step secrets
umask 077
python3 - "$work" "$owner" "$owner_password" "$api_user" "$api_password" "$session_secret" <<'PY' \
  || fail "could not write the secrets' JSON"
import json, sys
work, owner, owner_pw, api, api_pw, session = sys.argv[1:]
for name, text in [("owner", json.dumps({"username": owner, "password": owner_pw})),
                   ("api", json.dumps({"username": api, "password": api_pw})),
                   ("session", session)]:
    with open(f"{work}/secret-{name}.json", "w") as f:
        f.write(text)
PY
umask 022
for kind in owner api session; do
  id=shopfront-rehearsal-$$-$kind
  aws_local secretsmanager create-secret --name "$id" --secret-string "file://$work/secret-$kind.json" >/dev/null \
    || fail "could not create the secret $id in moto"
  secrets+=("$id")
  rm -f "$work/secret-$kind.json"
done
say "secrets: ${secrets[*]}"

# ---------------------------------------------------------------------------
# One boot: boot ROOT PORT [VAR=value...]: the settings that UserData exports,
# and nothing else from this environment (AWS credentials stand in for the
# instance role). boot.sh comes from the release, as the UserData stub gets it.
boot() {
  local root=$1 port=$2
  shift 2
  mkdir -p "$root/opt/aws/bin" || return 1
  # A stand-in cfn-signal that notes its arguments.
  cat >"$root/opt/aws/bin/cfn-signal" <<'SH'
#!/bin/sh
printf '%s\n' "$*" >>"$(dirname "$0")/../../../cfn-signal.log"
SH
  chmod +x "$root/opt/aws/bin/cfn-signal"
  aws_local s3 cp --only-show-errors "${release}boot.sh" "$root/boot.sh" || return 1
  env -i PATH="$PATH" HOME="$HOME" LC_ALL=C \
    AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    SHOPFRONT_RELEASE="$release" AWS_REGION="$AWS_REGION" AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" \
    DB_OWNER_SECRET_ID="${secrets[0]}" DB_API_SECRET_ID="${secrets[1]}" SESSION_SECRET_ID="${secrets[2]}" \
    DB_HOST=localhost DB_PORT="$db_port" REPLICA_HOST=localhost REPLICA_PORT="$replica_port" DB_NAME="$db" \
    S3_BUCKET="$S3_BUCKET" CLOUDFRONT_DISTRIBUTION_ID="${CLOUDFRONT_DISTRIBUTION_ID:-}" \
    API_PORT="$port" TRUSTED_PROXIES=10.0.0.0/16 API_LOG_GROUP=/shopfront/rehearsal/api \
    CFN_STACK=shopfront-rehearsal CFN_RESOURCE=AutoScalingGroup \
    SHOPFRONT_ROOT="$root" SHOPFRONT_SERVICE=direct BOOT_READY_TIMEOUT_SECS=90 BOOT_RETRY_DELAY_SECS=1 \
    "$@" timeout 300 bash "$root/boot.sh"
}
prefixed() { # label: boot's lines, indented and labelled
  sed -u "s/^/    [$1] /"
}

step boot
root_a=$work/root-a
root_b=$work/root-b
port_a=$(free_port)
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
# Two instances booting at once on the fresh database: both migrate, one
# waits for the other's lock.
boot "$root_a" "$port_a" 2>&1 | prefixed a &
pid_a=$!
boot "$root_b" "$port_b" 2>&1 | prefixed b &
pid_b=$!
wait "$pid_a"
status_a=$?
wait "$pid_b"
status_b=$?
[ "$status_a" = 0 ] || fail "boot a exited with status $status_a (its lines are above)"
[ "$status_b" = 0 ] || fail "boot b exited with status $status_b (its lines are above)"

step checks
for root in "$root_a" "$root_b"; do
  env_file=$root/etc/shopfront/env
  [ -f "$env_file" ] || fail "$env_file is missing"
  perms=$(stat -c %a "$env_file")
  [ "$perms" = 640 ] || fail "$env_file has mode $perms, not 640"
  for secret in "$owner_password" "$api_password"; do
    grep -qF -- "$secret" "$env_file" && fail "$env_file holds a raw database password"
  done
  grep -qF -- "$(printf '%s' "$owner_password" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')" "$env_file" \
    && fail "$env_file holds the owner's password"
  grep -q "^DATABASE_URL=postgres://$api_user:[^@]*@localhost:$db_port/$db?sslmode=verify-full&sslrootcert=$root/opt/shopfront/current/certs/rds-ca.pem\$" "$env_file" \
    || fail "$env_file has no DATABASE_URL for $api_user with verify-full and the release's CA"
  [ "$(grep -cvE '^[A-Z][A-Z0-9_]*=[A-Za-z0-9%._~:/?=&@+,*-]*$' "$env_file")" = 0 ] || fail "$env_file has a line outside the safe set"
  # The percent-encoded password decodes to the api's password.
  python3 - "$env_file" "$api_password" <<'PY' || fail "the api's password in $env_file does not decode to the api's password"
import sys, urllib.parse
env = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[1]))
url = urllib.parse.urlsplit(env["DATABASE_URL"])
sys.exit(urllib.parse.unquote(url.password) != sys.argv[2])
PY
  grep -rqF -- "$owner_password" "$root" && fail "the owner's password is written somewhere under $root"
  pid=$(cat "$root/run/shopfront-api.pid") || fail "boot left no pid file in $root/run"
  tr '\0' '\n' <"/proc/$pid/environ" | grep -qF -- "$(printf '%s' "$owner_password" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')" \
    && fail "the api's environment holds the owner's URL"
  tr '\0' '\n' <"/proc/$pid/environ" | grep -q '^PG_CA_CERT=' && fail "the api inherited the rehearsal's environment"
  cmp -s "$root/etc/systemd/system/shopfront-api.service" infra/boot/shopfront-api.service \
    || fail "boot installed a unit other than infra/boot/shopfront-api.service"
  cmp -s "$root/etc/logrotate.d/shopfront-api" infra/boot/shopfront-api.logrotate \
    || fail "boot installed a logrotate config other than infra/boot/shopfront-api.logrotate"
  python3 - "$root" <<'PY' || fail "the agent config boot wrote in $root is not the template filled in"
import json, sys
root = sys.argv[1]
config = json.load(open(f"{root}/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"))
files = {f["file_path"]: f["log_group_name"] for f in config["logs"]["logs_collected"]["files"]["collect_list"]}
want = {f"{root}/var/log/shopfront-boot.log": "/shopfront/rehearsal/api",
        f"{root}/var/log/shopfront-api.log": "/shopfront/rehearsal/api"}
sys.exit(files != want)
PY
  grep -q 'boot: step ready' "$root/var/log/shopfront-boot.log" || fail "$root/var/log/shopfront-boot.log does not log the steps"
  grep -qx -- '--exit-code 0 --stack shopfront-rehearsal --resource AutoScalingGroup --region '"$AWS_REGION" "$root/cfn-signal.log" \
    || fail "boot did not cfn-signal success: $(cat "$root/cfn-signal.log" 2>/dev/null)"
done
for port in "$port_a" "$port_b"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/readyz")
  [ "$code" = 200 ] || fail "/readyz on port $port answers $code"
done
users=$(psql -At "$DATABASE_URL" -v db="$db" <<'SQL'
SELECT string_agg(DISTINCT a.usename || CASE WHEN s.ssl THEN ' over TLS' ELSE ' in plain text' END, ',')
FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
WHERE a.datname = :'db' AND a.usename <> current_user;
SQL
)
[ "$users" = "$api_user over TLS" ] || fail "the apis connect to $db as '$users', not as $api_user alone over TLS"
say "env files 0640 without a raw password, the owner's password written nowhere, both apis ready as $api_user over TLS"

step again
# A second boot over the first (a re-run, or a new release on the same
# instance): migrate has nothing to do, the api is restarted.
old_pid=$(cat "$root_a/run/shopfront-api.pid")
boot "$root_a" "$port_a" 2>&1 | prefixed a2
status=$?
[ "$status" = 0 ] || fail "the second boot exited with status $status (its lines are above)"
new_pid=$(cat "$root_a/run/shopfront-api.pid")
[ "$new_pid" != "$old_pid" ] || fail "the second boot did not restart the api"
kill -0 "$old_pid" 2>/dev/null && fail "the api of the first boot (pid $old_pid) still runs"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port_a/readyz")
[ "$code" = 200 ] || fail "/readyz after the second boot answers $code"
say "the second boot restarted the api (pid $old_pid -> $new_pid), /readyz 200"

# ---------------------------------------------------------------------------
step failures
# Boots that must fail, each naming its step on stderr and in its cfn-signal;
# they run at once, and are checked in turn.
# shellcheck disable=SC2016 # a literal $
unsafe='a$b c'
aws_local secretsmanager create-secret --name "shopfront-rehearsal-$$-unsafe" --secret-string "$unsafe" >/dev/null \
  || fail "could not create the unsafe secret in moto"
secrets+=("shopfront-rehearsal-$$-unsafe")
aws_local secretsmanager create-secret --name "shopfront-rehearsal-$$-short" --secret-string short >/dev/null \
  || fail "could not create the short secret in moto"
secrets+=("shopfront-rehearsal-$$-short")
# A release whose tarball does not match its .sha256.
printf 'not a tarball\n' >"$work/bad.tar.gz"
printf '%064d  shopfront-%s.tar.gz\n' 0 "$arch" >"$work/bad.tar.gz.sha256"
{ aws_local s3 cp --only-show-errors "$work/bad.tar.gz" "s3://$bucket/shopfront/releases/bad/shopfront-$arch.tar.gz" \
  && aws_local s3 cp --only-show-errors "$work/bad.tar.gz.sha256" "s3://$bucket/shopfront/releases/bad/shopfront-$arch.tar.gz.sha256"; } \
  || fail "could not upload the bad release"
cases=(
  "no-log-group logs API_LOG_GROUP="
  "bad-release settings SHOPFRONT_RELEASE=s3://$bucket/no-slash"
  "missing-release release SHOPFRONT_RELEASE=s3://$bucket/shopfront/releases/none/"
  "bad-checksum release SHOPFRONT_RELEASE=s3://$bucket/shopfront/releases/bad/"
  "missing-secret secrets DB_API_SECRET_ID=shopfront-rehearsal-none"
  "unsafe-session env SESSION_SECRET_ID=shopfront-rehearsal-$$-unsafe"
  "no-database migrate DB_PORT=$(free_port)"
  "short-session ready SESSION_SECRET_ID=shopfront-rehearsal-$$-short"
)
pids=()
for case in "${cases[@]}"; do
  read -r label _ setting <<<"$case"
  boot "$work/root-$label" "$(free_port)" "$setting" >"$work/$label.out" 2>"$work/$label.err" &
  pids+=($!)
done
statuses=()
for pid in "${pids[@]}"; do
  wait "$pid"
  statuses+=($?)
done
for i in "${!cases[@]}"; do
  read -r label want _ <<<"${cases[$i]}"
  status=${statuses[$i]}
  root=$work/root-$label
  prefixed "$label" <"$work/$label.err"
  [ "$status" != 0 ] || fail "the boot '$label' succeeded"
  grep -q "boot: step $want failed: " "$work/$label.err" || fail "the boot '$label' did not say 'step $want failed' on stderr"
  grep -q -- "--exit-code 1 .*--reason step $want failed: " "$root/cfn-signal.log" \
    || fail "the boot '$label' did not cfn-signal failure naming $want: $(cat "$root/cfn-signal.log" 2>/dev/null)"
  [ "$(wc -l <"$root/cfn-signal.log")" = 1 ] || fail "the boot '$label' signalled more than once"
  if [ "$want" != ready ] && [ -e "$root/run/shopfront-api.pid" ]; then fail "the boot '$label' started an api"; fi
done
grep -q 'SESSION_SECRET has a character outside' "$work/root-unsafe-session/var/log/shopfront-boot.log" \
  || fail "the refused session secret is not named in the boot log"
grep -qF "$unsafe" "$work/root-unsafe-session/var/log/shopfront-boot.log" && fail "the refused session secret is logged"
say "each failing boot named its step, on stderr, in its log and in its one cfn-signal"
current=finished
