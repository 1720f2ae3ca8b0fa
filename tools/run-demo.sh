#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/run-demo.sh DAEMON DIR: serve on 127.0.0.1:9999 in the foreground with
# the demo key store in DIR/keys, after printing requests to try.
set -eu
dss=$1
dir=$2
work=$dir/work
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir/samples"
chmod 0755 "$dir/samples"
printf 'software = { version = "1.0"; };\n' >"$dir/samples/sw-description"
# a small tree of real module objects, packed as the bbclass packs it
if [ ! -f "$dir/samples/modules-in.tar.gz" ] && command -v gcc >/dev/null; then
	rm -rf "$dir/samples/tree"
	sh "$src/t/fixtures/mkmodules.sh" "$dir/samples/tree" 6.1.0-demo 8 >/dev/null 2>&1 &&
		tar -C "$dir/samples/tree" -czf "$dir/samples/modules-in.tar.gz" lib
	rm -rf "$dir/samples/tree"
fi
# an unsigned Mender artifact the service user may replace
if [ ! -f "$dir/samples/demo.mender" ] && command -v mender-artifact >/dev/null; then
	head -c 1048576 /dev/urandom >"$dir/samples/rootfs.img"
	mender-artifact write rootfs-image -t demo-device -n demo-1 -f "$dir/samples/rootfs.img" \
		-o "$dir/samples/demo.mender" --compression none >/dev/null 2>&1
	rm -f "$dir/samples/rootfs.img"
fi
# a FIT image with a signature node for the demo key "dev"
if [ ! -f "$dir/samples/fitImage" ] && command -v mkimage >/dev/null && command -v dtc >/dev/null; then
	head -c 65536 /dev/urandom >"$dir/samples/Image"
	cat >"$dir/samples/fit.its" <<EOF
/dts-v1/;
/ { description = "demo FIT"; #address-cells = <1>;
	images { kernel-1 { data = /incbin/("$dir/samples/Image"); type = "kernel"; arch = "arm64";
		os = "linux"; compression = "none"; load = <0x80000>; entry = <0x80000>;
		hash-1 { algo = "sha256"; }; }; };
	configurations { default = "conf-1"; conf-1 { kernel = "kernel-1";
		signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev"; sign-images = "kernel"; }; }; }; };
EOF
	mkimage -f "$dir/samples/fit.its" "$dir/samples/fitImage" >/dev/null 2>&1 || true
	rm -f "$dir/samples/Image" "$dir/samples/fit.its"
fi
# an OP-TEE TA tree: <uuid>.stripped.elf and its version
if [ ! -f "$dir/samples/tasign-in.tar.gz" ]; then
	rm -rf "$dir/samples/ta"
	mkdir -p "$dir/samples/ta"
	cp /bin/true "$dir/samples/ta/8aaaf200-2450-11e4-abe2-0002a5d5c51b.stripped.elf"
	echo 0x10 >"$dir/samples/ta/8aaaf200-2450-11e4-abe2-0002a5d5c51b.ta-version"
	tar -C "$dir/samples/ta" -czf "$dir/samples/tasign-in.tar.gz" .
	rm -rf "$dir/samples/ta"
fi
if [ "$(id -u)" -eq 0 ] && id digsigserver >/dev/null 2>&1; then
	chown digsigserver "$dir/samples"
	[ -f "$dir/samples/demo.mender" ] && chown digsigserver "$dir/samples/demo.mender"
fi
cat <<EOT
digsigserver demo: key store $dir/keys (machine and distro "demo")

Try, from another terminal:
  curl -s http://127.0.0.1:9999/status
  curl --fail -X POST -F distro=demo -F method=RSA \\
       -F sw-description=@$dir/samples/sw-description \\
       --output /tmp/sw-description.sig http://127.0.0.1:9999/sign/swupdate
  openssl dgst -sha256 -verify <(openssl rsa -in $dir/keys/demo/swupdate/rsa-private.key -pubout) \\
       -signature /tmp/sw-description.sig $dir/samples/sw-description
  curl --fail -X POST -F machine=demo -F hashalg=sha512 \\
       -F artifact=@$dir/samples/modules-in.tar.gz \\
       --output /tmp/signed-artifact.tar.gz http://127.0.0.1:9999/sign/modules
  curl --fail -X POST -F distro=demo -F artifact-uri=file://$dir/samples/demo.mender \\
       http://127.0.0.1:9999/sign/mender
  mender-artifact validate -k <(openssl rsa -in $dir/keys/demo/mender/private.key -pubout) \\
       $dir/samples/demo.mender
  curl --fail -X POST -F machine=demo -F artifact=@$dir/samples/fitImage \\
       --output /tmp/fitImage.signed http://127.0.0.1:9999/sign/fitimage
  mkimage -l /tmp/fitImage.signed
  curl --fail -X POST -F machine=demo -F artifact=@$dir/samples/tasign-in.tar.gz \\
       --output /tmp/tasign-out.tar.gz http://127.0.0.1:9999/sign/optee

Stop with Ctrl-C.
EOT
exec env DIGSIGSERVER_KEYFILE_URI="file://$dir/keys" DIGSIGSERVER_WORK_DIR="$work" \
	"$dss" --address 127.0.0.1 --port 9999
