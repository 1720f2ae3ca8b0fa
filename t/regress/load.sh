#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/load.sh: 10,000 RSA sw-description signing requests from 64
# concurrent clients against a pool of 4: every request ends in 200 (or
# 503 with Retry-After when the queue is made small), clients that retry
# as the bbclasses do get through bursts above capacity, and the supervisor's RSS and open fds
# are the same before and after.  Timing is reported, not asserted.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'software = { version = "1.0"; };\n' >"$T/sw-description"
LOAD="python3 $SRC/t/bench/loadgen.py"
N=${DSS_LOAD_REQUESTS:-10000}

dss_start DIGSIGSERVER_WORKERS=4 DIGSIGSERVER_LOG_LEVEL=warning || exit 1
# warm up, then measure the supervisor
$LOAD "$URL" /sign/swupdate 100 8 distro=d1 sw-description=@"$T/sw-description" >/dev/null
# compared at rest: jobs accounted for, every connection closed
dss_settle
fd0=$(dss_fds)
rss0=$(dss_rss)
$LOAD "$URL" /sign/swupdate "$N" 64 distro=d1 sw-description=@"$T/sw-description" >"$T/load.json"
echo "# $(cat "$T/load.json")"
check "$N requests from 64 clients: all 200" python3 -c "
import json; d = json.load(open('$T/load.json')); assert d['status'] == {'200': $N}, d"
dss_settle
fd1=$(dss_fds)
rss1=$(dss_rss)
check_eq "supervisor open fds unchanged by the load" "$fd0" "$fd1"
check_rss "supervisor RSS unchanged by the load" \
	"supervisor RSS unchanged by the load ($rss0 -> $rss1 kB, within 1 MB)" "$rss0" "$rss1" 1024
check_eq "every job counted as 2xx by /status" "$((N + 100))" "$(status_field 'd["totals"]["jobs"]')"
check "no job directories left" sh -c "[ -z \"\$(ls -A '$DSS_WORK')\" ]"
dss_stop

# A queue too short for 64 clients: each request is 200 or 503 + Retry-After.
dss_start DIGSIGSERVER_WORKERS=4 DIGSIGSERVER_QUEUE_MAX=8 DIGSIGSERVER_RETRY_AFTER=1 \
	DIGSIGSERVER_LOG_LEVEL=warning || exit 1
$LOAD "$URL" /sign/swupdate 2000 64 distro=d1 sw-description=@"$T/sw-description" >"$T/busy.json"
echo "# $(cat "$T/busy.json")"
check "short queue: every answer is 200 or 503 with Retry-After" python3 -c "
import json; d = json.load(open('$T/busy.json'))
assert set(d['status']) <= {'200', '503'}, d
assert d.get('503_without_retry_after', 0) == 0 and d['errors'] == 0, d
assert d['status'].get('503', 0) == d['503_with_retry_after'], d"
dss_stop

# Bursts above capacity (64 requests at once against 4 workers + 16 queue
# places): clients that retry as the bbclasses do (curl --retry 4,
# honouring Retry-After, here 2 to 4 s) all succeed.
dss_start DIGSIGSERVER_WORKERS=4 DIGSIGSERVER_QUEUE_MAX=16 DIGSIGSERVER_RETRY_AFTER=2 \
	DIGSIGSERVER_LOG_LEVEL=warning || exit 1
for burst in 1 2 3; do
	$LOAD --retry 4 "$URL" /sign/swupdate 64 64 distro=d1 sw-description=@"$T/sw-description" >"$T/retry.json"
	echo "# $(cat "$T/retry.json")"
	check "burst $burst of 64: clients retrying as curl --retry 4 all succeed" python3 -c "
import json; d = json.load(open('$T/retry.json')); assert d['status'] == {'200': 64} and d['retries'] > 0, d"
done
exit 0
