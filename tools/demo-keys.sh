#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/demo-keys.sh DIR: create a demo key store under DIR/keys with freshly
# generated development keys for every signer (machine "demo", distro
# "demo"), owned by the key process's user when run as root.  Development keys
# only: never use them for anything you ship.
set -eu
dir=${1:?usage: demo-keys.sh DIR}
keys=$dir/keys
mkdir -p "$dir"
chmod 0755 "$dir"
# as root the key process runs as digsigserver-keys, the workers as
# digsigserver: the keys are the key user's alone
own_keys() {
	[ "$(id -u)" -eq 0 ] || return 0
	for u in digsigserver digsigserver-keys; do
		id "$u" >/dev/null 2>&1 ||
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$u"
	done
	chown -R digsigserver-keys "$keys"
}
q() { "$@" >/dev/null 2>&1; }
# OP-TEE TA signing: RSA-2048 in PEM, as OP-TEE's keys/default_ta.pem (also
# added to a store made before /sign/optee existed)
optee_key() {
	[ -f "$keys/demo/opteesign/optee-signing-key.pem" ] && return 0
	(umask 077 && mkdir -p "$keys/demo/opteesign" &&
		q openssl genrsa -out "$keys/demo/opteesign/optee-signing-key.pem" 2048)
}
# FIT images: mkimage's key "dev" and its certificate, for machine demo and
# for upstream's default machine imx (also added to an older store)
fit_key() {
	[ -f "$keys/demo/fitimagesign/dev.key" ] && return 0
	(umask 077 && mkdir -p "$keys/demo/fitimagesign" "$keys/imx/fitimagesign" &&
		q openssl req -new -nodes -batch -x509 -days 3650 -subj "/O=digsigserver demo/CN=dev" \
			-newkey rsa:2048 -keyout "$keys/demo/fitimagesign/dev.key" \
			-out "$keys/demo/fitimagesign/dev.crt" &&
		cp "$keys/demo/fitimagesign/dev.key" "$keys/demo/fitimagesign/dev.crt" \
			"$keys/imx/fitimagesign/")
}
# UEFI payloads (Jetson): the db key and its certificate, as meta-tegra's
# uefisign key set (also added to an older store)
uefi_key() {
	[ -f "$keys/demo/uefisign/db.key" ] && return 0
	(umask 077 && mkdir -p "$keys/demo/uefisign" &&
		q openssl req -new -nodes -batch -x509 -days 3650 -subj "/O=digsigserver demo/CN=demo db" \
			-newkey rsa:2048 -keyout "$keys/demo/uefisign/db.key" \
			-out "$keys/demo/uefisign/db.crt")
}
if [ -d "$keys/demo" ]; then
	fit_key
	optee_key
	uefi_key
	own_keys
	echo "demo key store: $keys (kept)"
	exit 0
fi
umask 077
mkdir -p "$keys/demo/kmodsign" "$keys/demo/swupdate" "$keys/demo/mender" "$keys/demo/tegrasign"
# kernel module signing: key and self-signed certificate
q openssl req -new -nodes -utf8 -sha512 -days 3650 -batch -x509 \
	-subj "/O=digsigserver demo/CN=demo kernel module key" \
	-newkey rsa:2048 -keyout "$keys/demo/kmodsign/kernel-signkey.priv" \
	-out "$keys/demo/kmodsign/kernel-signkey.x509" \
	-addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=digitalSignature" \
	-addext "extendedKeyUsage=codeSigning"
# swupdate: RSA key, and CMS key with certificate
q openssl genrsa -out "$keys/demo/swupdate/rsa-private.key" 2048
q openssl req -new -nodes -batch -x509 -days 3650 -subj "/O=digsigserver demo/CN=demo swupdate" \
	-newkey rsa:2048 -keyout "$keys/demo/swupdate/cms-private.key" \
	-out "$keys/demo/swupdate/cms.cert" \
	-addext "keyUsage=digitalSignature" -addext "extendedKeyUsage=emailProtection"
# mender: RSA key in PKCS#1 form (what mender-artifact itself reads)
q openssl genrsa -traditional -out "$keys/demo/mender/private.key" 3072
# tegra: PKC key
q openssl genrsa -traditional -out "$keys/demo/tegrasign/rsa_priv.pem" 2048
fit_key
optee_key
uefi_key
own_keys
chmod 0700 "$keys"
echo "demo key store: $keys"
