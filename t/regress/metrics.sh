#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/metrics.sh: /metrics in Prometheus text format (checked with
# promtool), its counts, and the access rule shared with /status.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'software = {};\n' >"$T/sw"
dss_start DIGSIGSERVER_STATUS_ALLOW=127.0.0.1 || exit 1
for i in 1 2 3; do
	curl -s -o /dev/null -X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate"
done
curl -s -o /dev/null -X POST -F distro=nokeys -F sw-description=@"$T/sw" "$URL/sign/swupdate"
# every job done and counted (the count follows the answer)
wait_for 30 pool_settled
curl -s "$URL/metrics" >"$T/metrics"
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts /metrics" sh -c "promtool check metrics <'$T/metrics'"
else
	skip "promtool check metrics" "promtool not installed"
fi
check "requests by endpoint and status" grep -q '^digsigserver_requests_total{endpoint="swupdate",status="200"} 3$' "$T/metrics"
check "refused requests by status" grep -q '^digsigserver_requests_total{endpoint="swupdate",status="404"} 1$' "$T/metrics"
check "duration histogram by endpoint" grep -q '^digsigserver_job_duration_seconds_count{endpoint="swupdate"} 4$' "$T/metrics"
check "pool gauges" sh -c "grep -q '^digsigserver_pool_size 4$' '$T/metrics' && grep -q '^digsigserver_pool_workers{state=\"idle\"}' '$T/metrics'"
# what the fresh worker of each job cost, by phase: four jobs, so at least
# four workers reaped, each with CPU and faults before READY and in its job
check "workers reaped and forked counted" python3 -c "
import re, sys
t = open('$T/metrics').read()
v = lambda n: float(re.search('^' + re.escape(n) + r' (\\S+)$', t, re.M).group(1))
assert v('digsigserver_workers_exited_total') >= 4, 'exited'
assert v('digsigserver_forks_total') >= 8, 'forks'
assert v('digsigserver_fork_cpu_seconds_total') > 0, 'fork cpu'
for p in ('birth', 'job', 'exit'):
    assert v('digsigserver_worker_cpu_seconds_total{phase=\"%s\",mode=\"user\"}' % p) + \
        v('digsigserver_worker_cpu_seconds_total{phase=\"%s\",mode=\"system\"}' % p) > 0, p
for p in ('birth', 'job'):
    assert v('digsigserver_worker_minor_faults_total{phase=\"%s\"}' % p) > 0, p
"
for m in queue_length timeouts_total crashes_total respawns_total rejected_total aborted_total \
	audit_write_failures_total; do
	check "metric digsigserver_$m" grep -q "^digsigserver_$m " "$T/metrics"
done
check_eq "/metrics from an address outside STATUS_ALLOW: 403" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/metrics")"
check_eq "/status from an address outside STATUS_ALLOW: 403" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/status")"
check_eq "/healthz is open to all" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/healthz")"

# every endpoint refused with five statuses (65 series, no key needed)
# still leaves room: the next signature is counted in a series of its own
python3 - "$PORT" <<'PY'
import socket, sys
eps = ["swupdate", "modules", "mender", "tegra", "tegra/ueficapsule", "tegra/ekb", "tegra/uefi",
       "rkoptee-tee", "rkoptee-ta", "rk", "imx", "fitimage", "optee"]
mp = b"Content-Type: multipart/form-data; boundary=x\r\n"
for ep in eps:
    line = b"POST /sign/" + ep.encode() + b" HTTP/1.1\r\nHost: x\r\n"
    for rest in (b"Transfer-Encoding: gzip\r\n\r\n",                           # 501
                 b"Content-Length: 999999999999\r\n" + mp + b"\r\n",           # 413
                 b"Content-Length: 3\r\nContent-Type: text/plain\r\n\r\nabc",  # 415
                 b"Content-Length: 3\r\n" + mp + b"\r\nabc",                   # 400
                 b"Transfer-Encoding: chunked\r\n" + mp + b"\r\n0\r\n" +
                 b"".join(b"X%d: y\r\n" % i for i in range(200)) + b"\r\n"):  # 431
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(line + rest)
        s.settimeout(30)
        while s.recv(4096):
            pass
        s.close()
PY
curl -s -o /dev/null -X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate"
wait_for 30 pool_settled
curl -s "$URL/metrics" >"$T/metrics2"
check_eq "65 refused series, then a signature: counted" 4 \
	"$(sed -n 's/^digsigserver_requests_total{endpoint="swupdate",status="200"} //p' "$T/metrics2")"
check_eq "  ... and every one of the 65 too" 65 \
	"$(grep -cE '^digsigserver_requests_total\{endpoint="[a-z/-]+",status="(400|413|415|431|501)"\} 1$' "$T/metrics2")"
check_eq "  ... nothing uncounted" 0 \
	"$(sed -n 's/^digsigserver_requests_uncounted_total //p' "$T/metrics2")"

# The endpoint a job is counted under is the supervisor's routing, not
# what its worker says: a shim (LD_PRELOAD) makes each worker's STARTED
# name another endpoint, one that would write a series of its own into
# /metrics, while a flag file exists.  The worker is killed, the client
# gets 500 and nothing of it reaches /metrics.
if [ -n "${DSS_SANITIZED:-}" ] || [ -n "${DSS_VALGRIND:-}" ] || ! command -v gcc >/dev/null; then
	skip "a worker naming another endpoint" "needs gcc and a plain build (LD_PRELOAD)"
else
	cat >"$T/started.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (real == NULL)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	/* a worker's STARTED (type 3, a 24-byte header, then the endpoint) */
	if (access(FLAG, F_OK) == 0 && mh->msg_iovlen == 2 && mh->msg_iov[0].iov_len == 24 &&
	    *(const uint32_t *)mh->msg_iov[0].iov_base == 3 && mh->msg_iov[1].iov_len >= 32)
		memcpy(mh->msg_iov[1].iov_base, "x\"} 1\nevil{a=\"", 15);
	return real(fd, mh, flags);
}
EOC
	gcc -shared -fPIC -DFLAG="\"$T/evil\"" -o "$T/started.so" "$T/started.c"
	chmod 0755 "$T/started.so"
	dss_start DIGSIGSERVER_STATUS_ALLOW=127.0.0.1 LD_PRELOAD="$T/started.so" || exit 1
	: >"$T/evil"
	chmod 0644 "$T/evil"
	check_eq "a worker naming another endpoint: 500" 500 "$(curl -s -o /dev/null -w '%{http_code}' \
		-X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate")"
	check "  ... it was killed for it" wait_for 10 grep -q 'STARTED for another endpoint' "$DSS_LOG"
	rm -f "$T/evil"
	wait_for 30 pool_settled
	check_eq "  ... the next job, its own: 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
		-X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate")"
	wait_for 30 pool_settled
	curl -s "$URL/metrics" >"$T/metrics3"
	check "  ... /metrics names only its routes" sh -c "! grep -q evil '$T/metrics3'"
	check_eq "  ... the killed job counted under swupdate" "1 1" \
		"$(sed -n 's/^digsigserver_requests_total{endpoint="swupdate",status="\(500\|200\)"} //p' \
			"$T/metrics3" | tr '\n' ' ' | sed 's/ $//')"
fi
exit 0
