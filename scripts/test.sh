#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, the Rust unit and integration
# tests, and the browser tests in headless Chromium. Installs what the tests
# need (Debian's chromium, the browser tests' npm packages) when it is missing.
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

command -v cargo >/dev/null || die "cargo is missing; install Rust from https://rustup.rs"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are missing; install Node.js 20 or later"
need_debian_package chromium chromium

target_dir=${CARGO_TARGET_DIR:-$root/target}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "browser tests (headless Chromium)"
cargo build -p generator --locked
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
GENERATOR_BIN="$target_dir/debug/generator" node --test tests/browser/
