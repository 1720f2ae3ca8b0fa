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
