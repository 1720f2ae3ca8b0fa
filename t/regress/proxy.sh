#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/proxy.sh: the shipped nginx example (etc/nginx-digsigserver.conf)
# on loopback with a generated CA, server and client certificates: a
# client with a certificate is granted by its subject, one without is not,
# and the subject header is believed only from the trusted proxy address;
# /status and /metrics are not reachable through the proxy (nginx does not
# forward them; access.sh shows digsigserver refusing them to the trusted
# proxy's address).
. "$(dirname "$0")/lib.sh"

if ! command -v nginx >/dev/null; then
	skip "nginx TLS proxy" "nginx not installed"
	exit 0
fi
P=$T/pki
mkdir -p "$P"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -subj "/CN=Test CA" \
	-keyout "$P/ca.key" -out "$P/ca.crt"
q openssl req -new -nodes -newkey rsa:2048 -subj "/CN=127.0.0.1" -keyout "$P/server.key" -out "$P/server.csr"
printf 'subjectAltName=IP:127.0.0.1\n' >"$P/san"
q openssl x509 -req -in "$P/server.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
	-days 2 -extfile "$P/san" -out "$P/server.crt"
q openssl req -new -nodes -newkey rsa:2048 -subj "/O=Example/CN=builder" \
	-keyout "$P/client.key" -out "$P/client.csr"
q openssl x509 -req -in "$P/client.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
	-days 2 -out "$P/client.crt"
# a client certificate from another CA
q openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -subj "/O=Example/CN=builder" \
	-keyout "$P/rogue.key" -out "$P/rogue.crt"
subject=$(openssl x509 -in "$P/client.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'software = {};\n' >"$T/sw"
printf 'builder swupdate d1 subject:%s\n' "$subject" >"$T/tokens"
dss_start DIGSIGSERVER_TOKENS_FILE="$T/tokens" DIGSIGSERVER_TRUSTED_PROXIES=127.0.0.2 || exit 1

NPORT=$(free_port)
mkdir -p "$T/nginx"
sed -e "s|@LISTEN@|127.0.0.1:$NPORT|" -e "s|@SERVER_CERT@|$P/server.crt|" \
	-e "s|@SERVER_KEY@|$P/server.key|" -e "s|@CLIENT_CA@|$P/ca.crt|" \
	-e "s|@PROXY_BIND@|127.0.0.2|" -e "s|@UPSTREAM@|127.0.0.1:$PORT|" \
	"$SRC/etc/nginx-digsigserver.conf" >"$T/nginx/site.conf"
cat >"$T/nginx/nginx.conf" <<EOT
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	include $T/nginx/site.conf;
}
EOT
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; _cleanup' EXIT
wait_for 10 curl -s -o /dev/null --cacert "$P/ca.crt" "https://127.0.0.1:$NPORT/healthz"
check "nginx example starts with the generated certificates" \
	curl -s -o /dev/null --fail --cacert "$P/ca.crt" "https://127.0.0.1:$NPORT/healthz"
via() { # via [curl args]: sign through nginx, print the status
	curl -s -o "$T/sig" -w '%{http_code}' --cacert "$P/ca.crt" "$@" -X POST -F distro=d1 \
		-F sw-description=@"$T/sw" "https://127.0.0.1:$NPORT/sign/swupdate"
}
check_eq "client certificate: granted by its subject (200)" 200 \
	"$(via --cert "$P/client.crt" --key "$P/client.key")"
check "... and the signature verifies" sh -c "openssl rsa -in '$KEYS/d1/swupdate/rsa-private.key' -pubout 2>/dev/null >'$T/pub' &&
	openssl dgst -sha256 -verify '$T/pub' -signature '$T/sig' '$T/sw'"
check "the subject is the identity in the log" grep -q "identity=builder " "$DSS_LOG"
check_eq "no client certificate: 401" 401 "$(via)"
check_eq "certificate from another CA: refused by nginx" 400 \
	"$(via --cert "$P/rogue.crt" --key "$P/rogue.key")"
check_eq "no certificate but a forged subject header: 401" 401 \
	"$(via -H "X-Client-Subject: $subject")"
check_eq "a client URL with a trailing slash (//sign/...) still reaches the signer" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$P/ca.crt" --cert "$P/client.crt" \
		--key "$P/client.key" -X POST -F distro=d1 -F sw-description=@"$T/sw" \
		"https://127.0.0.1:$NPORT//sign/swupdate")"
# /status and /metrics tell about every job and client: not through the proxy
for p in /status /metrics //status '/%73tatus' '/status?x=1' /sign/../metrics; do
	check_eq "through the proxy: GET $p is not forwarded (404)" 404 \
		"$(curl -s -o /dev/null -w '%{http_code}' --path-as-is --cacert "$P/ca.crt" \
			--cert "$P/client.crt" --key "$P/client.key" "https://127.0.0.1:$NPORT$p")"
done
check_eq "direct loopback /status still works" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/status")"
check_eq "direct client forging the subject header (not a trusted proxy): 401" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "X-Client-Subject: $subject" -X POST \
		-F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate")"
exit 0
