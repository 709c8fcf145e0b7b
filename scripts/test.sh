#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, the Rust unit and integration
# tests, and the browser tests in headless Chromium. Installs what the tests
# need (Debian's chromium, the PostgreSQL server, the browser tests' npm
# packages) when it is missing, and starts a PostgreSQL primary and streaming
# replica for the tests, stopping them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*"; }
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
need_debian_package chromium chromium
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

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "starting the local PostgreSQL primary and replica"
# A pair of its own, on its own ports, so a developer's pair is left alone.
export PG_DATA=${PG_DATA:-$(mktemp -d /tmp/shopfront-test-pg.XXXXXX)}
export PG_PRIMARY_PORT=${PG_PRIMARY_PORT:-54331} PG_REPLICA_PORT=${PG_REPLICA_PORT:-54332}
trap 'infra/local/pg.sh stop; rm -rf "$PG_DATA"' EXIT
eval "$(infra/local/pg.sh start)"

step "cargo test"
cargo test --workspace --locked

step "browser tests (headless Chromium)"
cargo build -p generator --locked
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
GENERATOR_BIN="$target_dir/debug/generator" node --test tests/browser/
