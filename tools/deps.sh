#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/deps.sh build|test: install the Debian packages digsigserver needs to
# build (build) or to run its tests and benchmarks (test) when they are
# missing.  Needs root (or sudo) only when something is missing.
set -eu
build_pkgs="autoconf automake libtool pkg-config make gcc libevent-dev libarchive-dev zlib1g-dev
	libcurl4-openssl-dev libssl-dev libjansson-dev libp11-kit-dev check openssl u-boot-tools"
test_pkgs="curl linux-kbuild-6.1 kmod mender-artifact swupdate cpio wrk clang zstd xz-utils
	libclang-rt-14-dev valgrind nginx prometheus systemd procps psmisc device-tree-compiler
	python3-cryptography softhsm2 sbsigntool imx-code-signing-tool osslsigncode systemd-boot-efi haproxy chromium"
case "${1:-build}" in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node.js and npm (for the S3 emulator) may come from outside Debian: a
# working npm command is enough, and Debian's npm would conflict with it.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
