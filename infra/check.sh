#!/usr/bin/env bash
# Checks the AWS stack offline: cfn-lint (no errors, warnings or informational
# findings) and checkov on every template, shellcheck on the scripts here, then
# the core and edge stacks created together in moto (infra/tests/test_*.py).
# Each Python tool runs from a virtualenv of its own under infra/.venv
# (checkov pins an older boto3 than moto wants), made on the first run.
#
#   infra/check.sh
set -euo pipefail
cd "$(dirname "$0")"
infra=$PWD

die() { printf 'infra/check.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

venv() { # name requirements-file → prints the venv's bin folder
  local dir=$infra/.venv/$1
  if ! cmp -s "$2" "$dir/.requirements" 2>/dev/null; then
    printf 'infra/check.sh: installing %s into %s\n' "$1" "$dir" >&2
    rm -rf "$dir"
    python3 -m venv "$dir" || die "could not make a virtualenv (Debian: apt-get install python3-venv)"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$2" >&2 || die "pip could not install $2"
    cp "$2" "$dir/.requirements"
  fi
  echo "$dir/bin"
}

command -v python3 >/dev/null || die "python3 is missing"
command -v shellcheck >/dev/null || die "shellcheck is missing (Debian: apt-get install shellcheck)"
templates=(cloudformation/*.yaml)

step "cfn-lint (errors, warnings and informational findings all fail)"
lint=$(venv cfn-lint requirements-cfn-lint.txt)
# -c I adds the informational rules (I....), which cfn-lint leaves out by
# default; a rule a template ignores is justified in its Metadata.
"$lint/cfn-lint" --include-checks I --non-zero-exit-code informational -- "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates, no errors, no warnings, no informational findings"

step "checkov"
checkov=$(venv checkov requirements-checkov.txt)
"$checkov/checkov" --framework cloudformation --skip-download --compact --quiet -d cloudformation

step "shellcheck: deploy.sh, check.sh"
shellcheck deploy.sh check.sh
./deploy.sh --help >/dev/null
echo "shellcheck: clean; deploy.sh --help runs"

step "core and edge in moto"
moto=$(venv moto requirements-moto.txt)
"$moto/python" -m pytest -q -p no:cacheprovider -W ignore::UserWarning tests
