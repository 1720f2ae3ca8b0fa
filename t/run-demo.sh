#!/bin/sh
# t/run-demo.sh DAEMON DIR: serve on 127.0.0.1:9999 in the foreground with
# the demo key store in DIR/keys, after printing requests to try.
set -eu
dss=$1
dir=$2
work=$dir/work
mkdir -p "$dir/samples"
printf 'software = { version = "1.0"; };\n' >"$dir/samples/sw-description"
cat <<EOT
digsigserver demo: key store $dir/keys (machine and distro "demo")

Try, from another terminal:
  curl -s http://127.0.0.1:9999/status
  curl --fail -X POST -F distro=demo -F method=RSA \\
       -F sw-description=@$dir/samples/sw-description \\
       --output /tmp/sw-description.sig http://127.0.0.1:9999/sign/swupdate
  openssl dgst -sha256 -verify <(openssl rsa -in $dir/keys/demo/swupdate/rsa-private.key -pubout) \\
       -signature /tmp/sw-description.sig $dir/samples/sw-description
  curl --fail -X POST -F machine=demo -F hashalg=sha512 -F artifact=@modules.tar.gz \\
       --output signed-artifact.tar.gz http://127.0.0.1:9999/sign/modules
  curl --fail -X POST -F distro=demo -F artifact-uri=file:///path/to/x.mender \\
       http://127.0.0.1:9999/sign/mender

Stop with Ctrl-C.
EOT
exec env DIGSIGSERVER_KEYFILE_URI="file://$dir/keys" DIGSIGSERVER_WORK_DIR="$work" \
	"$dss" --address 127.0.0.1 --port 9999
