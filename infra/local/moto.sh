#!/usr/bin/env bash
# The local S3 + CloudFront stand-in: moto_server on loopback, with the
# shop's bucket and a distribution, for development and tests.
#
#   infra/local/moto.sh start    # idempotent; prints the settings as shell exports
#   infra/local/moto.sh stop
#   infra/local/moto.sh status
#   infra/local/moto.sh env      # the exports again
#   infra/local/moto.sh reset    # clear every bucket and distribution, then make the two again
#   infra/local/moto.sh install  # only make the virtualenv
#
# Settings: MOTO_PORT (54350), MOTO_DATA (infra/local/.data/moto: pid and log),
# MOTO_VENV (infra/local/.data/venv-moto), S3_BUCKET (shopfront-local).
# moto checks no signatures, so any credentials do; the exports set dummy ones.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
port=${MOTO_PORT:-54350}
data=${MOTO_DATA:-$root/infra/local/.data/moto}
venv=${MOTO_VENV:-$root/infra/local/.data/venv-moto}
bucket=${S3_BUCKET:-shopfront-local}
endpoint=http://127.0.0.1:$port
requirements=$root/infra/local/requirements-moto.txt

die() { printf 'moto.sh: %s\n' "$*" >&2; exit 1; }

install() {
  local stamp=$venv/.requirements
  if [ -x "$venv/bin/moto_server" ] && cmp -s "$requirements" "$stamp"; then return 0; fi
  command -v python3 >/dev/null || die "python3 is missing; install Python 3.9 or later"
  printf 'moto.sh: installing moto into %s\n' "$venv" >&2
  python3 -m venv "$venv" || die "could not make a virtualenv at $venv (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || die "pip could not install $requirements"
  cp "$requirements" "$stamp"
}

# The server's pid, if it is running (and the pid is still moto_server's).
pid() {
  local p
  [ -f "$data/pid" ] || return 1
  p=$(cat "$data/pid")
  kill -0 "$p" 2>/dev/null && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q moto_server && echo "$p"
}

ready() { curl -fs -o /dev/null "$endpoint/moto-api/" 2>/dev/null; }

export AWS_ACCESS_KEY_ID=shopfront-local AWS_SECRET_ACCESS_KEY=shopfront-local AWS_REGION=us-east-1

# Makes the bucket and a distribution in front of it, unless they are there;
# prints the distribution's id.
provision() {
  "$venv/bin/python" - "$endpoint" "$bucket" <<'PY'
import sys, boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
cf = boto3.client("cloudfront", endpoint_url=endpoint, region_name="us-east-1")
items = cf.list_distributions()["DistributionList"].get("Items", [])
mine = [d["Id"] for d in items if d.get("Comment") == bucket]
if mine:
    print(mine[0])
    sys.exit()
origin = bucket + ".s3.us-east-1.amazonaws.com"
config = {
    "CallerReference": bucket,
    "Comment": bucket,
    "Enabled": True,
    "DefaultRootObject": "index.html",
    "Origins": {"Quantity": 1, "Items": [{
        "Id": "site", "DomainName": origin,
        "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {
        "TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
        "MinTTL": 0, "TrustedSigners": {"Enabled": False, "Quantity": 0},
        "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
}
print(cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"])
PY
}

print_env() {
  local id
  id=$(provision) || die "could not make the bucket and distribution; see $data/server.log"
  echo "export AWS_ENDPOINT_URL=$endpoint"
  echo "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_REGION=$AWS_REGION"
  echo "export S3_BUCKET=$bucket"
  echo "export CLOUDFRONT_DISTRIBUTION_ID=$id"
}

start() {
  install
  if [ -z "$(pid)" ]; then
    if ready; then die "port $port is taken by another process; set MOTO_PORT"; fi
    mkdir -p "$data"
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$data/server.log" 2>&1 &
    echo $! >"$data/pid"
    for _ in $(seq 100); do
      ready && break
      kill -0 "$(cat "$data/pid")" 2>/dev/null || die "moto_server exited; see $data/server.log"
      sleep 0.1
    done
    ready || die "moto_server did not answer on $endpoint within 10 s; see $data/server.log"
  fi
  print_env
}

stop() {
  local p
  p=$(pid) || true
  if [ -n "$p" ]; then
    kill "$p"
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"
  fi
  rm -f "$data/pid"
}

case ${1:-} in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status)
    if [ -n "$(pid)" ]; then echo "moto_server: running on $endpoint (pid $(pid))"
    else echo "moto_server: stopped"; exit 3; fi ;;
  env) [ -n "$(pid)" ] || die "moto_server is not running; run: infra/local/moto.sh start"; print_env ;;
  reset)
    [ -n "$(pid)" ] || die "moto_server is not running; run: infra/local/moto.sh start"
    curl -fs -X POST "$endpoint/moto-api/reset" >/dev/null
    print_env ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
