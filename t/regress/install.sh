#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/install.sh: make install into a DESTDIR puts the daemon, the
# man page, the sample environment file and the hardened unit in place;
# the unit's systemd-analyze exposure is at most 2.0.
. "$(dirname "$0")/lib.sh"

D=$T/destdir
if ! make -s -C "$BUILD" install DESTDIR="$D" prefix=/usr/local sysconfdir=/etc >"$T/install.log" 2>&1; then
	not_ok "make install DESTDIR" "$(tail -20 "$T/install.log")"
	exit 0
fi
ok "make install DESTDIR"
check "daemon in sbin" test -x "$D/usr/local/sbin/digsigserver"
check "man page in man8" test -f "$D/usr/local/share/man/man8/digsigserver.8"
check "sample environment file" test -f "$D/etc/digsigserver/digsigserver.env"
check "systemd unit" test -f "$D/usr/local/lib/systemd/system/digsigserver.service"
check "unit starts the installed daemon" grep -q '^ExecStart=/usr/local/sbin/digsigserver$' \
	"$D/usr/local/lib/systemd/system/digsigserver.service"
check "installed daemon runs" "$D/usr/local/sbin/digsigserver" --version
check "nothing installed outside DESTDIR" sh -c "! find / -xdev -newer '$T/install.log' -name 'digsigserver*' -path '/usr/local/*' 2>/dev/null | grep -v '^$D' | grep -q ."
for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
	RestrictAddressFamilies= SystemCallFilter= ReadWritePaths=; do
	check "unit sets $k" grep -q "^$k" "$D/usr/local/lib/systemd/system/digsigserver.service"
done
if command -v systemd-analyze >/dev/null; then
	score=$(systemd-analyze security --offline=true "$D/usr/local/lib/systemd/system/digsigserver.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security exposure $score <= 2.0" python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)"
else
	skip "systemd-analyze security" "systemd-analyze not installed"
fi
exit 0
