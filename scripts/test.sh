#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, the checks of the AWS stack in
# infra/, the Rust unit and integration tests, the api fuzzed against its own
# OpenAPI spec (schemathesis), the boot rehearsal and the smoke script's test
# (infra/tests/), and the browser tests in headless Chromium. Installs what the tests
# need (Debian's chromium, the PostgreSQL server, moto in a virtualenv under
# infra/local/.data, schemathesis in one under tests/schemathesis/.venv, the
# browser tests' npm packages) when it is missing, and
# starts a PostgreSQL primary and streaming replica and the local S3 +
# CloudFront stand-in (moto_server) for the tests, stopping them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s (at %ds)\n' "$*" "$SECONDS"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_debian_package() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing $2 (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    die "$1 is missing; install Debian's $2 package (sudo apt-get install $2) and run again"
  fi
}

have_postgres_server() { ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || [ -n "${PG_BIN:-}" ]; }

command -v cargo >/dev/null || die "cargo is missing; install Rust from https://rustup.rs"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are missing; install Node.js 20 or later"
command -v python3 >/dev/null || die "python3 is missing; install Python 3.11 or later (the local S3 stand-in and schemathesis run on it)"
need_debian_package curl curl
need_debian_package chromium chromium
need_debian_package openssl openssl  # the local pair's CA, and the edge stand-in's
# The boot rehearsal checks boot.sh, its unit and its logrotate config.
need_debian_package shellcheck shellcheck
need_debian_package systemd-analyze systemd
need_debian_package logrotate logrotate
if ! have_postgres_server; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing postgresql (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    die "the PostgreSQL server is missing; install it (sudo apt-get install postgresql) or set PG_BIN to its bin folder"
  fi
fi

target_dir=${CARGO_TARGET_DIR:-$root/target}

step "cargo fmt --check"
cargo fmt --all -- --check

# The checks of the AWS stack and the browser tests' npm install are Python
# and Node work, mostly waiting on pip and npm: they run beside the Rust
# build, and their output is shown when they are needed.
logs=$(mktemp -d /tmp/shopfront-test-logs.XXXXXX)
background=()
stop_jobs() {
  for pid in "${background[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap stop_jobs EXIT
# Each in a session of its own, so that cleanup stops its children too.
setsid infra/check.sh >"$logs/infra" 2>&1 &
infra_pid=$!
background+=("$infra_pid")
setsid bash -c 'cd tests/browser && exec npm ci --no-audit --no-fund --loglevel=error' >"$logs/npm" 2>&1 &
npm_pid=$!
background+=("$npm_pid")
# Waits for a job started above and shows what it printed; fails with it.
finish() { # pid log what
  local status=0
  wait "$1" || status=$?
  cat "$2"
  [ "$status" = 0 ] || die "$3 failed (exit status $status); its output is above"
}

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "the AWS stack: cfn-lint, checkov, the core stack in moto (infra/check.sh)"
finish "$infra_pid" "$logs/infra" "infra/check.sh"

step "starting the local PostgreSQL primary and replica"
# A pair of its own, on its own ports, so a developer's pair is left alone.
export PG_DATA=${PG_DATA:-$(mktemp -d /tmp/shopfront-test-pg.XXXXXX)}
export PG_PRIMARY_PORT=${PG_PRIMARY_PORT:-54331} PG_REPLICA_PORT=${PG_REPLICA_PORT:-54332}
export MOTO_DATA=${MOTO_DATA:-$(mktemp -d /tmp/shopfront-test-moto.XXXXXX)} MOTO_PORT=${MOTO_PORT:-54351}
cleanup() {
  stop_jobs
  infra/local/pg.sh stop || true
  infra/local/moto.sh stop || true
  rm -rf "$PG_DATA" "$MOTO_DATA"
}
trap cleanup EXIT
pg_env=$(infra/local/pg.sh start) || die "the local PostgreSQL pair did not start"
eval "$pg_env"

step "starting the local S3 + CloudFront stand-in (moto_server)"
moto_env=$(infra/local/moto.sh start) || die "the local S3 + CloudFront stand-in did not start"
eval "$moto_env"

step "cargo test"
cargo test --workspace --all-features --locked
cargo build --workspace --all-features --locked  # the same features as the tests: nothing is rebuilt

step "the api against its OpenAPI spec (schemathesis)"
tests/schemathesis/run.sh

export GENERATOR_BIN="$target_dir/debug/generator" API_BIN="$target_dir/debug/api"

step "the boot rehearsal: infra/boot/boot.sh from the S3 stand-in to /readyz (infra/tests/rehearse.sh)"
infra/tests/rehearse.sh

step "infra/smoke.sh against the local stack (infra/tests/smoke-test.sh)"
infra/tests/smoke-test.sh

step "browser tests (headless Chromium)"
finish "$npm_pid" "$logs/npm" "npm ci in tests/browser"
node --test tests/browser/
