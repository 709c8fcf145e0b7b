#!/usr/bin/env bash
# Builds the release that the stack's instances boot from: one tarball per
# architecture, its .sha256, and boot.sh beside them (infra/README.md,
# "Releases"). aarch64 (the Graviton default) is cross-compiled here and its
# binaries are smoke-run under qemu-user before they are packed.
#
#   infra/release.sh [--arch aarch64|x86_64|all] [--rds-ca FILE] [--out DIR]
#                    [--upload s3://BUCKET/PREFIX/] [--profile PROFILE]
#                    [--generator-bin FILE --api-bin FILE]
#
#   --arch      what to build (default: aarch64, the template's default)
#   --rds-ca    the CA bundle the instances verify RDS with, copied into the
#               tarball as certs/rds-ca.pem. Default: RDS's global bundle,
#               downloaded once, here, from truststore.pki.rds.amazonaws.com.
#   --out       where the release goes (default: dist/)
#   --upload    then copy it there with the AWS CLI (the template's
#               ArtifactsBucket and ReleasePrefix)
#   --profile   cargo profile (default: release-lto, what ships)
#   --generator-bin, --api-bin
#               pack these binaries, built for this machine, instead of
#               building (the boot rehearsal packs the test build this way)
#
# Cross-compiling needs the Rust target (rustup target add
# aarch64-unknown-linux-gnu), Debian's gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross, and qemu-user for the smoke run; as root on Debian
# the script installs the missing ones.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

die() { printf 'infra/release.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*" >&2; }

arches=aarch64 rds_ca='' out=$root/dist upload='' profile=release-lto generator_bin='' api_bin=''
arch_given=
while [ $# -gt 0 ]; do
  case $1 in
    --arch) [ "${2:-}" = all ] && arches="aarch64 x86_64" || arches=${2:?--arch needs a value}; arch_given=1; shift 2 ;;
    --generator-bin) generator_bin=${2:?--generator-bin needs a file}; shift 2 ;;
    --api-bin) api_bin=${2:?--api-bin needs a file}; shift 2 ;;
    --rds-ca) rds_ca=${2:?--rds-ca needs a file}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --upload) upload=${2:?--upload needs s3://bucket/prefix/}; shift 2 ;;
    --profile) profile=${2:?--profile needs a name}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for arch in $arches; do
  case $arch in aarch64|x86_64) ;; *) die "--arch $arch: use aarch64, x86_64 or all" ;; esac
done
case $upload in ''|s3://*/) ;; *) die "--upload $upload: give s3://BUCKET/PREFIX/ (ending in /)" ;; esac
prebuilt=''
if [ -n "$generator_bin$api_bin" ]; then
  if ! [ -x "$generator_bin" ] || ! [ -x "$api_bin" ]; then
    die "give both --generator-bin and --api-bin, as executable files"
  fi
  [ -z "$arch_given" ] || [ "$arches" = "$(uname -m)" ] \
    || die "prebuilt binaries are this machine's ($(uname -m)); --arch $arches does not match"
  arches=$(uname -m) prebuilt=1
fi

debian_package() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing $2 (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null || die "apt-get could not install $2"
  else
    die "$1 is missing; install Debian's $2 package (sudo apt-get install $2)"
  fi
}

target_dir=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "the RDS CA bundle"
if [ -z "$rds_ca" ]; then
  rds_ca=$work/rds-ca.pem
  curl -fsS --retry 3 -o "$rds_ca" https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem \
    || die "could not download RDS's CA bundle; download it yourself and pass --rds-ca FILE"
fi
[ -f "$rds_ca" ] || die "--rds-ca $rds_ca: no such file"
certs=$(grep -c 'BEGIN CERTIFICATE' "$rds_ca" || true)
if [ "$certs" = 0 ] || ! openssl crl2pkcs7 -nocrl -certfile "$rds_ca" >/dev/null 2>&1; then
  die "$rds_ca is not a PEM file of certificates"
fi
echo "$rds_ca: $certs certificates" >&2

mkdir -p "$out"
for arch in $arches; do
  triple=$arch-unknown-linux-gnu
  build_env=()
  if [ -n "$prebuilt" ]; then
    step "packing the given binaries for $triple"
    run=()
  elif [ "$arch" != "$(uname -m)" ]; then
    step "cross-compiling for $triple"
    rustup target list --installed 2>/dev/null | grep -qx "$triple" || rustup target add "$triple" \
      || die "the Rust target $triple is missing: rustup target add $triple"
    debian_package "$arch-linux-gnu-gcc" "gcc-${arch//_/-}-linux-gnu"
    [ -d "/usr/$arch-linux-gnu/lib" ] || debian_package "$arch-linux-gnu-gcc" "libc6-dev-${arch/aarch64/arm64}-cross"
    debian_package "qemu-$arch" qemu-user
    upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
    build_env=(
      "CARGO_TARGET_${upper}_LINKER=$arch-linux-gnu-gcc"
      "CC_${triple//-/_}=$arch-linux-gnu-gcc"
      "CXX_${triple//-/_}=$arch-linux-gnu-g++"
      "AR_${triple//-/_}=$arch-linux-gnu-ar"
    )
    run=(qemu-"$arch" -L "/usr/$arch-linux-gnu")
  else
    step "building for $triple"
    run=()
  fi
  if [ -n "$prebuilt" ]; then
    generator=$generator_bin api=$api_bin
  else
    started=$SECONDS
    env "${build_env[@]}" cargo build --locked --profile "$profile" --target "$triple" \
      --features generator/full -p generator -p api
    echo "built in $((SECONDS - started)) s" >&2
    generator=$target_dir/$triple/$profile/generator api=$target_dir/$triple/$profile/api
  fi

  step "smoke run of the $arch binaries${run:+ under ${run[0]}}"
  file "$generator" "$api" 2>/dev/null >&2 || true
  "${run[@]}" "$generator" --version >&2 || die "$arch generator does not run"
  "${run[@]}" "$api" --help >/dev/null || die "$arch api does not run"
  # A real build of the shop: templates, Markdown, money and the sitemap.
  "${run[@]}" "$generator" build --content content --out "$work/site-$arch" >&2 \
    || die "$arch generator could not build the shop"
  if ! [ -s "$work/site-$arch/index.html" ] || ! [ -s "$work/site-$arch/products.json" ]; then
    die "$arch generator built no storefront"
  fi

  step "packing shopfront-$arch.tar.gz"
  stage=$work/stage-$arch
  mkdir -p "$stage/bin" "$stage/certs"
  cp "$generator" "$stage/bin/generator"
  cp "$api" "$stage/bin/api"
  cp -r content themes "$stage/"
  cp -r infra/boot "$stage/boot"
  cp "$rds_ca" "$stage/certs/rds-ca.pem"
  tar -czf "$out/shopfront-$arch.tar.gz" --owner=0 --group=0 -C "$stage" .
  (cd "$out" && sha256sum "shopfront-$arch.tar.gz" >"shopfront-$arch.tar.gz.sha256")
  ls -l "$out/shopfront-$arch.tar.gz" >&2
done
cp infra/boot/boot.sh "$out/boot.sh"

if [ -n "$upload" ]; then
  step "uploading to $upload"
  aws s3 cp --recursive --exclude '*' --include 'shopfront-*.tar.gz*' --include boot.sh "$out" "$upload"
fi
step "release ready in $out"
ls -1 "$out" >&2
