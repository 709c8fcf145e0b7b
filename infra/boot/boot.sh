#!/usr/bin/env bash
# What a Shopfront api instance does at boot. The launch template's UserData
# exports the settings below, downloads this file from the release
# (s3://…/<release>/boot.sh) and runs it with bash. infra/tests/rehearse.sh
# runs it on a development machine against moto and the local PostgreSQL pair.
#
# Steps, each logged as `boot: step NAME`; a failure is logged as
# `boot: step NAME failed: WHAT` on stderr, exits non-zero and, when CFN_STACK
# is set, sends cfn-signal failure with that line as the reason:
#   logs      the CloudWatch agent, first, so that a failed boot still ships its log
#   settings  every setting below is present and well-formed
#   release   shopfront-$(uname -m).tar.gz and its .sha256: verify, extract to
#             /opt/shopfront/releases/<name>, point /opt/shopfront/current at it
#   secrets   the database owner's, the api's and the session secret
#   env       /etc/shopfront/env (0640 root:shopfront): the api's EnvironmentFile,
#             never shell-sourced; passwords percent-encoded into the URLs
#   migrate   `generator migrate` as the owner (it takes an advisory lock, and
#             creates or updates the api's role); the owner's URL is never written
#   service   the systemd unit and the logrotate config from the release; start
#   ready     poll /readyz until 200 (BOOT_READY_TIMEOUT_SECS, default 120)
#   signal    cfn-signal success
#
# Settings (environment only; required unless a default is given):
#   SHOPFRONT_RELEASE   s3://bucket/prefix/ (ends with /)
#   AWS_REGION, AWS_ENDPOINT_URL (optional: an S3 + Secrets Manager stand-in)
#   DB_OWNER_SECRET_ID, DB_API_SECRET_ID   SecretString {"username","password"}
#   SESSION_SECRET_ID   SecretString is the session secret itself
#   DB_HOST, DB_PORT, REPLICA_HOST, REPLICA_PORT, DB_NAME (shop)
#   S3_BUCKET, CLOUDFRONT_DISTRIBUTION_ID (may be empty), API_PORT (8080),
#   TRUSTED_PROXIES (may be empty)
#   API_LOG_GROUP, BOOT_LOG_GROUP (default: API_LOG_GROUP)
#   CFN_STACK, CFN_RESOURCE (optional)
#   SHOPFRONT_ROOT      prefix of every path written (default "", i.e. /)
#   SHOPFRONT_SERVICE   systemd (default) or direct: no systemd, no CloudWatch
#                       agent, no system user; the api runs in the background as
#                       the current user, its pid in $SHOPFRONT_ROOT/run/shopfront-api.pid
#   BOOT_READY_TIMEOUT_SECS (120), BOOT_RETRY_DELAY_SECS (5: between the 3 tries
#   of a download, a secret or migrate), BOOT_FLUSH_SECS (10: the wait for the
#   CloudWatch agent before a failure signal, under systemd)
set -uo pipefail
export LC_ALL=C
umask 022

root=${SHOPFRONT_ROOT:-}
root=${root%/}
mode=${SHOPFRONT_SERVICE:-systemd}
boot_log=$root/var/log/shopfront-boot.log
api_log=$root/var/log/shopfront-api.log
etc_dir=$root/etc/shopfront
env_file=$etc_dir/env
opt_dir=$root/opt/shopfront
current=$opt_dir/current
state_dir=$root/var/lib/shopfront
unit_file=$root/etc/systemd/system/shopfront-api.service
logrotate_file=$root/etc/logrotate.d/shopfront-api
cw_dir=$root/opt/aws/amazon-cloudwatch-agent
cw_config=$cw_dir/etc/amazon-cloudwatch-agent.json
cfn_signal=$root/opt/aws/bin/cfn-signal
pid_file=$root/run/shopfront-api.pid
retry_delay=${BOOT_RETRY_DELAY_SECS:-5}

current_step=start
failed=
signalled=

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
log() { printf '%s boot: %s\n' "$(now)" "$*"; }
warn() { printf '%s boot: warning: %s\n' "$(now)" "$*" >&2; }
step() {
  current_step=$1
  log "step $1"
}

# Sends cfn-signal (when CFN_STACK is set): signal 0|1 [reason].
signal() {
  [ -n "${CFN_STACK:-}" ] || return 0
  signalled=1
  local args=(--exit-code "$1" --stack "$CFN_STACK" --resource "${CFN_RESOURCE:-}" --region "${AWS_REGION:-}")
  [ -n "${2:-}" ] && args+=(--reason "$2")
  if [ ! -x "$cfn_signal" ]; then
    warn "cannot signal CloudFormation: $cfn_signal is missing"
    return 1
  fi
  "$cfn_signal" "${args[@]}"
}

# A failure signal makes CloudFormation roll back and terminate the
# instance: first give the CloudWatch agent (which sends every 5 s) time to
# ship the line that says why.
flush_logs() {
  [ "$mode" = systemd ] && [ -n "${CFN_STACK:-}" ] && [ -z "$signalled" ] && sleep "${BOOT_FLUSH_SECS:-10}"
  return 0
}

# Ends the boot: the step that failed, what went wrong, and a failure signal.
fail() {
  local line="step $current_step failed: $*"
  failed=1
  printf '%s boot: %s\n' "$(now)" "$line" >&2
  if [ -n "${CFN_STACK:-}" ] && [ -z "$signalled" ]; then
    flush_logs
    signal 1 "$line" || warn "cfn-signal failure did not reach CloudFormation"
  fi
  exit 1
}

# Anything that ends the script without fail() (set -u, a signal) is a failure too.
on_exit() {
  local status=$?
  [ -n "${download:-}" ] && rm -rf "$download"
  if [ "$status" != 0 ] && [ -z "$failed" ]; then
    failed=1
    local line="step $current_step failed: exited unexpectedly with status $status"
    printf '%s boot: %s\n' "$(now)" "$line" >&2
    if [ -n "${CFN_STACK:-}" ] && [ -z "$signalled" ]; then
      flush_logs
      signal 1 "$line" || true
    fi
  fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require() { # NAME...: each set and not empty
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || fail "$name is not set"
  done
}

aws_cli() {
  local args=(--region "$AWS_REGION")
  [ -n "${AWS_ENDPOINT_URL:-}" ] && args+=(--endpoint-url "$AWS_ENDPOINT_URL")
  aws "${args[@]}" "$@"
}

# Retries a command: retry ATTEMPTS DELAY command...
retry() {
  local attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    [ "$n" -ge "$attempts" ] && return 1
    warn "try $n of $attempts failed: ${*:1:3}; again in ${delay}s"
    sleep "$delay"
    n=$((n + 1))
  done
}

# Drops every exported variable but a few, so that children see only what is
# set for them here (cloud-init's or a developer's environment stays out).
clean_env() {
  local name
  for name in $(compgen -e); do
    case $name in
      PATH | HOME | LANG | LC_ALL | TZ) ;;
      *) unset "$name" 2>/dev/null || true ;;
    esac
  done
}

# The fields of a get-secret-value answer (JSON on stdin), NUL-terminated:
# `secret_fields json` prints username and password, `secret_fields raw` the
# SecretString. Errors never show the secret.
secret_fields() {
  python3 -c '
import json, sys
mode = sys.argv[1]
try:
    value = json.load(sys.stdin)["SecretString"]
    if mode == "raw":
        fields = [value]
    else:
        doc = json.loads(value)
        fields = [doc["username"], doc["password"]]
except KeyError as e:
    sys.exit("the secret has no %s" % e)
except json.JSONDecodeError as e:
    sys.exit("the secret is not JSON: %s" % e)
except (TypeError, ValueError) as e:
    sys.exit("the secret is not of the expected shape: %s" % type(e).__name__)
for field in fields:
    if not isinstance(field, str) or not field or "\0" in field:
        sys.exit("the secret has an empty or invalid field")
    sys.stdout.write(field + "\0")
' "$1"
}

# Reads a secret: read_secret ID json|raw ARRAY_NAME
read_secret() {
  local id=$1 kind=$2 answer want=2
  local -n into=$3
  [ "$kind" = raw ] && want=1
  answer=$(retry 3 "$retry_delay" aws_cli secretsmanager get-secret-value --secret-id "$id" --output json) \
    || fail "could not read the secret $id"
  mapfile -d '' into < <(printf '%s' "$answer" | secret_fields "$kind")
  [ "${#into[@]}" = "$want" ] || fail "could not parse the secret $id"
}

# Percent-encodes stdin for a URL's userinfo (RFC 3986: all but unreserved).
pct_encode() {
  python3 -c 'import sys, urllib.parse; sys.stdout.write(urllib.parse.quote(sys.stdin.read(), safe=""))'
}

# URL user:password@host:port/db with verify-full against the release's CA.
db_url() { # user password host port
  local user pass
  user=$(printf '%s' "$1" | pct_encode) || return 1
  pass=$(printf '%s' "$2" | pct_encode) || return 1
  printf 'postgres://%s:%s@%s:%s/%s?sslmode=verify-full&sslrootcert=%s' \
    "$user" "$pass" "$3" "$4" "$DB_NAME" "$current/certs/rds-ca.pem"
}

# The CloudWatch agent's config: infra/boot/cloudwatch-agent.json, kept here
# too since it must be in place before the release is downloaded (the
# rehearsal checks that the two are the same), with the log groups filled in
# and the paths under SHOPFRONT_ROOT.
cloudwatch_config() {
  local config
  config=$(
    cat <<'JSON'
{
  "agent": {
    "run_as_user": "root",
    "logfile": "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log"
  },
  "logs": {
    "force_flush_interval": 5,
    "logs_collected": {
      "files": {
        "collect_list": [
          {
            "file_path": "/var/log/shopfront-boot.log",
            "log_group_name": "@BOOT_LOG_GROUP@",
            "log_stream_name": "{instance_id}/boot",
            "timezone": "UTC"
          },
          {
            "file_path": "/var/log/shopfront-api.log",
            "log_group_name": "@API_LOG_GROUP@",
            "log_stream_name": "{instance_id}/api",
            "timezone": "UTC"
          }
        ]
      }
    }
  }
}
JSON
  )
  config=${config//\"\/var\/log\//\"$root\/var\/log\/}
  config=${config//\"\/opt\/aws\//\"$root\/opt\/aws\/}
  config=${config//@BOOT_LOG_GROUP@/$BOOT_LOG_GROUP}
  config=${config//@API_LOG_GROUP@/$API_LOG_GROUP}
  printf '%s\n' "$config"
}

# ---------------------------------------------------------------------------
# The boot log: everything below also goes to /var/log/shopfront-boot.log,
# which the agent ships as soon as it runs.
if ! mkdir -p "$root/var/log" || ! touch "$boot_log"; then
  fail "cannot write $boot_log"
fi
exec > >(tee -a "$boot_log") 2> >(tee -a "$boot_log" >&2)
log "boot of ${SHOPFRONT_RELEASE:-?} on $(uname -m), service mode $mode, root ${root:-/}"

# ---------------------------------------------------------------------------
step logs
case $mode in systemd | direct) ;; *) fail "SHOPFRONT_SERVICE must be systemd or direct, not $mode" ;; esac
if [ "$mode" = systemd ] && [ "$(id -u)" != 0 ]; then fail "must run as root (or set SHOPFRONT_SERVICE=direct)"; fi
[[ $retry_delay =~ ^[0-9]+$ ]] || fail "BOOT_RETRY_DELAY_SECS must be a number of seconds"
require AWS_REGION API_LOG_GROUP
BOOT_LOG_GROUP=${BOOT_LOG_GROUP:-$API_LOG_GROUP}
for name in API_LOG_GROUP BOOT_LOG_GROUP; do
  [[ ${!name} =~ ^[A-Za-z0-9._/#-]{1,512}$ ]] || fail "$name is not a log group name: ${!name}"
done
mkdir -p "$(dirname "$cw_config")" "$cw_dir/logs" || fail "cannot make $cw_dir"
cloudwatch_config >"$cw_config" || fail "cannot write $cw_config"
{ touch "$api_log" && chmod 0640 "$api_log"; } || fail "cannot make $api_log"
if [ "$mode" = systemd ]; then
  packages=()
  [ -x "$cw_dir/bin/amazon-cloudwatch-agent-ctl" ] || packages+=(amazon-cloudwatch-agent)
  [ -n "${CFN_STACK:-}" ] && [ ! -x "$cfn_signal" ] && packages+=(aws-cfn-bootstrap)
  command -v logrotate >/dev/null || packages+=(logrotate)
  if [ "${#packages[@]}" -gt 0 ]; then
    retry 3 "$((retry_delay * 2))" dnf install -y -q "${packages[@]}" || fail "dnf could not install ${packages[*]}"
  fi
  "$cw_dir/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$cw_config" \
    || fail "the CloudWatch agent did not start"
else
  log "direct mode: the agent's config is in $cw_config; the agent is not started"
fi

# ---------------------------------------------------------------------------
step settings
require SHOPFRONT_RELEASE DB_OWNER_SECRET_ID DB_API_SECRET_ID SESSION_SECRET_ID \
  DB_HOST DB_PORT REPLICA_HOST REPLICA_PORT S3_BUCKET
DB_NAME=${DB_NAME:-shop}
API_PORT=${API_PORT:-8080}
CLOUDFRONT_DISTRIBUTION_ID=${CLOUDFRONT_DISTRIBUTION_ID:-}
TRUSTED_PROXIES=${TRUSTED_PROXIES:-}
ready_timeout=${BOOT_READY_TIMEOUT_SECS:-120}
[[ $SHOPFRONT_RELEASE =~ ^s3://[a-z0-9][a-z0-9.-]*/([^[:space:]]*/)?$ ]] \
  || fail "SHOPFRONT_RELEASE must be s3://bucket/prefix/ (ending with /), not $SHOPFRONT_RELEASE"
for name in DB_PORT REPLICA_PORT API_PORT; do
  [[ ${!name} =~ ^[0-9]{1,5}$ ]] || fail "$name must be a port number, not ${!name}"
done
[[ $ready_timeout =~ ^[0-9]+$ ]] || fail "BOOT_READY_TIMEOUT_SECS must be a number of seconds"
[[ -z $root || $root == /* ]] || fail "SHOPFRONT_ROOT must be an absolute path"
if [ -n "${CFN_STACK:-}" ]; then require CFN_RESOURCE; fi
for tool in aws python3 curl tar sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

# ---------------------------------------------------------------------------
step release
arch=$(uname -m)
tarball=shopfront-$arch.tar.gz
release_name=${SHOPFRONT_RELEASE%/}
release_name=${release_name##*/}
[[ $release_name =~ ^[A-Za-z0-9._-]+$ ]] || fail "the release prefix must end in a plain folder name, not $release_name"
release_dir=$opt_dir/releases/$release_name
download=$(mktemp -d "${TMPDIR:-/tmp}/shopfront-release.XXXXXX") || fail "cannot make a download folder"
retry 3 "$retry_delay" aws_cli s3 cp --only-show-errors "$SHOPFRONT_RELEASE$tarball" "$download/$tarball" \
  || fail "could not download $SHOPFRONT_RELEASE$tarball"
retry 3 "$retry_delay" aws_cli s3 cp --only-show-errors "$SHOPFRONT_RELEASE$tarball.sha256" "$download/$tarball.sha256" \
  || fail "could not download $SHOPFRONT_RELEASE$tarball.sha256"
read -r expected _ <"$download/$tarball.sha256" || fail "$tarball.sha256 is empty"
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "$tarball.sha256 does not start with a SHA-256"
actual=$(sha256sum "$download/$tarball") || fail "could not hash $tarball"
actual=${actual%% *}
[ "$actual" = "$expected" ] || fail "$tarball has SHA-256 $actual, but $tarball.sha256 says $expected"
mkdir -p "$opt_dir/releases" || fail "cannot make $opt_dir/releases"
if [ -f "$release_dir/.sha256" ] && [ "$(cat "$release_dir/.sha256")" = "$actual" ]; then
  log "release $release_name is already in $release_dir"
else
  unpack=$(mktemp -d "$opt_dir/releases/.unpack.XXXXXX") || fail "cannot make a folder to extract into"
  tar -xzf "$download/$tarball" -C "$unpack" --no-same-owner || fail "could not extract $tarball"
  for file in bin/api bin/generator certs/rds-ca.pem boot/shopfront-api.service boot/shopfront-api.logrotate; do
    [ -e "$unpack/$file" ] || fail "$tarball has no $file"
  done
  { chmod -R u+rwX,go+rX,go-w "$unpack" && chmod 0755 "$unpack/bin/api" "$unpack/bin/generator"; } \
    || fail "could not set the release's permissions"
  printf '%s\n' "$actual" >"$unpack/.sha256" || fail "cannot write $unpack/.sha256"
  { rm -rf "$release_dir" && mv -T "$unpack" "$release_dir"; } || fail "could not move the release to $release_dir"
fi
{ ln -sfn "releases/$release_name" "$opt_dir/current.new" && mv -T "$opt_dir/current.new" "$current"; } \
  || fail "could not point $current at $release_dir"
rm -rf "$download"
download=
log "release $release_name ($arch, sha256 $actual) is $current"

# ---------------------------------------------------------------------------
step secrets
owner=()
api=()
session=()
read_secret "$DB_OWNER_SECRET_ID" json owner
read_secret "$DB_API_SECRET_ID" json api
read_secret "$SESSION_SECRET_ID" raw session
[ "${owner[0]}" != "${api[0]}" ] || fail "the owner's and the api's secrets name the same user, ${api[0]}"
log "secrets: database owner ${owner[0]}, api role ${api[0]}, session secret of ${#session[0]} characters"

# ---------------------------------------------------------------------------
step env
safe='^[A-Za-z0-9%._~:/?=&@+,*-]*$'
api_url=$(db_url "${api[0]}" "${api[1]}" "$DB_HOST" "$DB_PORT") || fail "could not make the primary's URL"
replica_url=$(db_url "${api[0]}" "${api[1]}" "$REPLICA_HOST" "$REPLICA_PORT") || fail "could not make the replica's URL"
settings=(
  "API_ADDR=0.0.0.0:$API_PORT"
  "DATABASE_URL=$api_url"
  "DATABASE_REPLICA_URL=$replica_url"
  "SESSION_SECRET=${session[0]}"
  "S3_BUCKET=$S3_BUCKET"
  "CLOUDFRONT_DISTRIBUTION_ID=$CLOUDFRONT_DISTRIBUTION_ID"
  "AWS_REGION=$AWS_REGION"
  "AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-}"
  "TRUSTED_PROXIES=$TRUSTED_PROXIES"
  "CONTENT_DIR=$current/content"
  "THEMES_DIR=$current/themes"
  "STATE_DIR=$state_dir"
  "LOG_FORMAT=json"
)
lines=()
for setting in "${settings[@]}"; do
  name=${setting%%=*}
  value=${setting#*=}
  [ -n "$value" ] || continue # unset rather than empty
  [[ $value =~ $safe ]] || fail "$name has a character outside [A-Za-z0-9%._~:/?=&@+,*-]; refusing to write it"
  lines+=("$setting")
done
mkdir -p "$etc_dir" "$state_dir" || fail "cannot make $etc_dir"
if [ "$mode" = systemd ]; then
  if ! id shopfront >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /var/lib/shopfront --shell /sbin/nologin shopfront \
      || fail "could not create the shopfront user"
  fi
  group=shopfront
else
  group=$(id -g)
fi
(umask 077 && printf '%s\n' "${lines[@]}" >"$env_file.new") || fail "could not write $env_file.new"
if [ "$(id -u)" = 0 ]; then
  chown "root:$group" "$env_file.new" || fail "could not give $env_file.new to root:$group"
fi
{ chmod 0640 "$env_file.new" && mv -f "$env_file.new" "$env_file"; } || fail "could not install $env_file"
if [ "$mode" = systemd ]; then
  { chown shopfront:shopfront "$state_dir" && chmod 0750 "$state_dir"; } || fail "cannot hand $state_dir to shopfront"
fi
log "wrote $env_file: ${#lines[@]} settings (${lines[*]%%=*})"

# ---------------------------------------------------------------------------
step migrate
owner_url=$(db_url "${owner[0]}" "${owner[1]}" "$DB_HOST" "$DB_PORT") || fail "could not make the owner's URL"
as_user=()
[ "$mode" = systemd ] && as_user=(runuser -u shopfront --)
migrate() {
  (
    clean_env
    export DATABASE_URL=$owner_url API_DATABASE_ROLE=${api[0]} API_DATABASE_PASSWORD=${api[1]} NO_COLOR=1
    cd "$current" || exit 1
    exec "${as_user[@]}" "$current/bin/generator" migrate
  )
}
retry 3 "$retry_delay" migrate || fail "generator migrate did not succeed (its output is above)"
unset owner_url

# ---------------------------------------------------------------------------
step service
install -D -m 0644 "$current/boot/shopfront-api.service" "$unit_file" || fail "could not install $unit_file"
install -D -m 0644 "$current/boot/shopfront-api.logrotate" "$logrotate_file" || fail "could not install $logrotate_file"
if [ "$mode" = systemd ]; then
  systemctl daemon-reload || fail "systemctl daemon-reload failed"
  systemctl enable shopfront-api || fail "could not enable shopfront-api"
  systemctl restart shopfront-api || fail "could not start shopfront-api"
  if systemctl cat logrotate.timer >/dev/null 2>&1; then
    systemctl enable --now logrotate.timer || warn "could not enable logrotate.timer"
  fi
else
  mkdir -p "$(dirname "$pid_file")" || fail "cannot make $(dirname "$pid_file")"
  if [ -f "$pid_file" ]; then
    old=$(cat "$pid_file")
    old_cwd=$(readlink "/proc/$old/cwd" 2>/dev/null) || old_cwd=
    if [[ $old_cwd == "$opt_dir/releases/"* ]] && kill -0 "$old" 2>/dev/null; then
      log "stopping the api started before (pid $old)"
      kill -TERM "$old"
      for _ in $(seq 90); do kill -0 "$old" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$old" 2>/dev/null && fail "the api started before (pid $old) did not stop within 45 s"
    fi
  fi
  mapfile -t api_env <"$env_file" || fail "cannot read $env_file"
  (
    # What the unit gives the api: the env file, its working folder, its log.
    # AWS credentials pass through (on an instance, they come from its role).
    creds=()
    for name in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
      AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE; do
      [ -n "${!name:-}" ] && creds+=("$name=${!name}")
    done
    clean_env
    for setting in "${api_env[@]}" "${creds[@]}"; do export "${setting?}"; done
    cd "$current" || exit 1
    exec "$current/bin/api" serve >>"$api_log" 2>&1 </dev/null
  ) &
  api_pid=$!
  printf '%s\n' "$api_pid" >"$pid_file" || fail "cannot write $pid_file"
  log "started the api in the background (pid $api_pid), logging to $api_log"
fi

# ---------------------------------------------------------------------------
step ready
url=http://127.0.0.1:$API_PORT/readyz
deadline=$((SECONDS + ready_timeout))
status=
while :; do
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url") || true
  if [ "$status" = 200 ]; then
    # In direct mode, make sure it is this api that answered, not one before it.
    sleep 1
    [ "$mode" = systemd ] || kill -0 "$api_pid" 2>/dev/null && break
  fi
  if [ "$mode" = direct ] && ! kill -0 "$api_pid" 2>/dev/null; then
    tail -n 30 "$api_log" >&2
    fail "the api exited; the end of $api_log is above"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    if [ "$mode" = systemd ]; then systemctl status --no-pager --lines=0 shopfront-api >&2; fi
    tail -n 30 "$api_log" >&2
    fail "$url did not answer 200 within ${ready_timeout}s (last: ${status:-no answer}); the end of $api_log is above"
  fi
  sleep 1
done
log "$url answers 200"

# ---------------------------------------------------------------------------
step signal
if [ -n "${CFN_STACK:-}" ]; then
  # The api is up either way: a signal CloudFormation refuses (an instance
  # started outside a stack operation, by scaling) is no reason to fail.
  signal 0 || warn "cfn-signal success did not reach CloudFormation"
else
  log "CFN_STACK is not set: no signal"
fi
log "done: the api of $release_name is up on port $API_PORT"
