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
exit 0
