. "$(dirname "$0")/lib.sh"
mkdir -p "$KEYS/d1/swupdate"; openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'x\n' > $T/sw
ulimit -n 64
dss_start DIGSIGSERVER_WORKERS=2 || exit 1
python3 - $PORT <<'PY' &
import socket, sys, time
socks=[]
for i in range(120):
    try: socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
    except Exception as e: pass
time.sleep(4)
PY
sleep 2
lines=$(wc -l < $DSS_LOG)
echo "log lines: $lines"
grep -c "pausing" $DSS_LOG
grep "lowered" $DSS_LOG
wait
sleep 0.5
curl -s -o /dev/null -w '%{http_code}\n' -X POST -F distro=d1 -F sw-description=@$T/sw $URL/sign/swupdate
