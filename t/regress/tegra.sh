#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/tegra.sh: /sign/tegra through the real daemon, posted as
# meta-tegra's tegrasign bbclass posts it, against the fake L4T trees of
# t/fixtures/mkl4t.sh, whose helpers record how they were run.  Checked
# rule by rule: the staged tools, python2 wrapping, links, key files, the
# exact command line and environment, BUPGENSPECS/SIGNFILES/BUPGEN, what
# the answer holds and what it must not, every 400, a failing helper
# (500), a hanging one (504, group killed, pool refilled), /status
# progress, the audit trail, and two jobs at once.
. "$(dirname "$0")/lib.sh"

L4T=$T/l4t
REC=$T/rec
sh "$SRC/t/fixtures/mkl4t.sh" "$L4T" "$REC" || { not_ok "fake L4T trees"; exit 0; }
AUDIT=$T/audit.log

# --- keys ---------------------------------------------------------------------
# tx2: PKC only; xavier, orin: PKC + SBK + user key; nano: PKC + SBK (unused on t210)
for m in tx2 xavier nano orin; do
	mkdir -p "$KEYS/$m/tegrasign"
	openssl genrsa -traditional -out "$KEYS/$m/tegrasign/rsa_priv.pem" 2048 2>/dev/null
done
for m in xavier nano orin; do
	echo "0x5a5a5a5a 0x0badcafe 0x12345678 0x9abcdef0" >"$KEYS/$m/tegrasign/sbk.txt"
done
for m in xavier orin; do
	echo "0xdeadbeef 0xfeedface 0x01020304 0x05060708" >"$KEYS/$m/tegrasign/user_key.txt"
done
mkdir -p "$T/keycopy"
cp -r "$KEYS"/. "$T/keycopy/"
keysum() { sha256sum <"$T/keycopy/$1/tegrasign/$2" | cut -d' ' -f1; }

DTB=tegra186-quill-p3310-1000-c03-00-base.dtb

# mkpkg DIR MACHINE: a flash package as the bbclass has it before signing.
mkpkg() {
	rm -rf "$1"
	mkdir -p "$1"
	echo '<partition_layout><file>@SIGNED@</file></partition_layout>' >"$1/flash.xml.in"
	echo "dtb" >"$1/$DTB"
	echo "kernel" >"$1/boot.img"
	echo "mb1" >"$1/mb1_prod.bin"
	echo "cfg" >"$1/$2.cfg"
	echo "override" >"$1/$2-override.cfg"
	echo "doflash" >"$1/doflash.sh"
	chmod 0755 "$1/doflash.sh"
	# the flash variables and BSP version the helpers source, as meta-tegra
	# writes them (R32 tegra186 bare values, later ones quoted)
	if [ "$2" = tx2 ]; then
		cat >"$1/flashvars" <<'EOF'
FLASHVARS="BPFDTB_FILE PINMUX_CONFIG"
BPFDTB_FILE=tegra186-a02-bpmp-quill-p3310-1000-@BPFDTBREV@-00-te770d-ucm2.dtb
PINMUX_CONFIG=tegra186-mb1-bct-pinmux-quill-p3310-1000-@BOARDREV@.cfg
DEV_PARAMS=emmc.cfg
EOF
	else
		cat >"$1/flashvars" <<'EOF'
# flash variables
FLASHVARS="BPFDTB_FILE"
CHIPID=0x23
BPFDTB_FILE="tegra234-bpmp-3701-0000-3737-0000.dtb"
UPHY_CONFIG="--uphy tegra234-mb1-bct-uphylane-si.dtsi"
CHIP_SKU="00:00:00:D0"
PLUGIN_MANAGER_OVERLAYS="tegra234-p3737-0000+p3701-0000-dynamic.dtbo,tegra-optee.dtbo"
DEFAULT_FAB="A00";
EOF
	fi
	printf '# R35 (release), REVISION: 4.1\nBSP_BRANCH=35\nBSP_MAJOR=4\nBSP_MINOR=1\n' >"$1/bsp_version"
}

# manifest LNXFILE: the MANIFEST tegrasign_create_manifest writes.
manifest() {
	cat <<EOF
DTBFILE=$DTB
ODMDATA=0x1090000
LNXFILE=$1
BOARDID=3310
FAB=B02
fuselevel=fuselevel_production
localbootfile=boot.img
boardcfg=
CHIPREV=
BOARDSKU=
BOARDREV=
EOF
}

# pack DIR OUT: tar -c -h -z -f OUT * in DIR, as the bbclass does.
pack() {
	(cd "$1" && tar -c -h -z -f "$2" -- *)
}

# post MACHINE SOCTYPE BSPVERSION TARBALL [curl args]: prints the status;
# the answer is in $T/out.  Empty MACHINE/SOCTYPE/BSPVERSION are left out.
post() {
	_args=()
	[ -n "$1" ] && _args+=(-F "machine=$1")
	[ -n "$2" ] && _args+=(-F "soctype=$2")
	[ -n "$3" ] && _args+=(-F "bspversion=$3")
	[ -n "$4" ] && _args+=(-F "artifact=@$4")
	shift 4
	rm -f "$REC"/* "$T/out"
	curl -s --max-time 120 -o "$T/out" -w '%{http_code}' -X POST "${_args[@]}" "$@" \
		"$URL/sign/tegra"
}

body() { cat "$T/out" 2>/dev/null; }
# runs: the helper runs recorded, oldest first (their file prefixes).
runs() { ls "$REC"/*.args 2>/dev/null | LC_ALL=C sort | sed 's/\.args$//'; }
nruns() { runs | grep -c .; }
members() { tar -tzf "$T/out" | LC_ALL=C sort; }
arg_lines() { sed 's/^[0-9]*=//' "$1.args"; }

# expect_env R MANIFESTFILE TREE MACHINE [VAR=VAL overrides...]: the exact
# environment of run R: the MANIFEST, PATH and MACHINE, nothing else.
expect_env() {
	_r=$1 _mf=$2 _tree=$3 _m=$4
	shift 4
	_cwd=$(cat "$_r.cwd")
	_lt=$L4T/$_tree/Linux_for_Tegra
	{
		grep -v -e '^PATH=' -e '^MACHINE=' "$_mf"
		echo "PATH=$_cwd/_tools:$_cwd/_tools/bootloader:$_lt:$_lt/bootloader:$PATH"
		echo "MACHINE=$_m"
	} >"$T/env.want"
	for o in "$@"; do
		grep -v "^${o%%=*}=" "$T/env.want" >"$T/env.tmp"
		echo "$o" >>"$T/env.tmp"
		mv "$T/env.tmp" "$T/env.want"
	done
	LC_ALL=C sort "$T/env.want"
}
got_env() { LC_ALL=C sort "$1.env"; }

# expect_tools LIST...: the files _tools should hold ("<path> <mode> <type>").
tools_files() { grep -v ' d$' "$1.tools" | cut -d' ' -f1 | LC_ALL=C sort; }
sorted() { printf '%s\n' "$@" | LC_ALL=C sort; }

# package_signed NAME N MACHINE SOC VERSION: a package of boot.img for
# MACHINE (its MANIFEST kept as $T/mf<N>, the upload as $T/in<N>.tar.gz)
# is signed: "NAME: 200".
package_signed() {
	mkpkg "$P" "$3"
	manifest boot.img >"$P/MANIFEST"
	cp "$P/MANIFEST" "$T/mf$2"
	pack "$P" "$T/in$2.tar.gz"
	check_eq "$1: 200" 200 "$(post "$3" "$4" "$5" "$T/in$2.tar.gz")"
}

# What signing makes, in every answer (SIGNED) and where the kernel is
# encrypted (before R34: its sigheader stays, KERNEL_SIGNED).
SIGNED="./flashcmd.txt ./mb1_prod_sigheader.bin.encrypt.signed ./${DTB%.dtb}_sigheader.dtb.encrypt.signed"
KERNEL_SIGNED=./boot_sigheader.img.encrypt.signed

dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_AUDIT_FILE="$AUDIT" \
	DIGSIGSERVER_WORKERS=3 || exit 0

# ============================================================================
# 1. tegra186, R32.4.3: plain package signing
# ============================================================================
P=$T/pkg
package_signed "t186 R32.4.3" 1 tx2 tegra186 32.4.3
check_eq "t186 R32.4.3: one helper run" 1 "$(nruns)"
R=$(runs)
CWD=$(cat "$R.cwd")
check "t186: the helper is the staged copy in <work>/_tools/bootloader" \
	grep -qx "0=$CWD/_tools/bootloader/tegra186-flash-helper" "$R.args"
check "t186: work directory is private to the job (under the daemon's work dir)" \
	sh -c "case '$CWD' in '$DSS_WORK'/*) true ;; *) false ;; esac"
PKC=$(sed -n 's/^3=//p' "$R.args")
check_eq "t186: exact command line" \
	"$(printf '%s\n' --no-flash -u "$PKC" flash.xml.in "$DTB" tx2.cfg 0x1090000 boot.img)" \
	"$(arg_lines "$R" | sed 1d)"
check "t186: key file is rsa_priv.pem beside the work dir, not in it" \
	sh -c "[ \"\$(basename '$PKC')\" = rsa_priv.pem ] && case '$PKC' in '$CWD'/*) false ;; /*) true ;; *) false ;; esac"
check_eq "t186: key file 0600, same bytes as the key store" "-u 600 $(keysum tx2 rsa_priv.pem)" \
	"$(cat "$R.keys")"
check "t186: no job directory (no key file) is left once the job is over" wait_for 10 no_job_dirs
check_eq "t186: exact environment: MANIFEST + PATH + MACHINE" \
	"$(expect_env "$R" "$T/mf1" L4T-32.4.3-tegra186 tx2)" "$(got_env "$R")"
check_eq "t186 R32.4.3: staged tools" \
	"$(sorted ./bootloader/tegraflash.py ./bootloader/tegraflash_internal.py \
		./bootloader/BUP_generator.py ./bootloader/BUP_generator.py.real \
		./bootloader/odmsign.func ./bootloader/l4t_bup_gen.func \
		./bootloader/tegra186-flash-helper ./bootloader/nvflashxmlparse \
		./bootloader/rollback/rollback_parser.py ./bootloader/rollback/rollback_parser.py.real)" \
	"$(tools_files "$R")"
check_eq "t186: BUP_generator.py (#!/usr/bin/python2) wrapped for python2" \
	"$(printf '#!/bin/sh\npython2 %s "$@"' "$CWD/_tools/bootloader/BUP_generator.py.real")" \
	"$(cat "$R.wrap")"
check "t186: modes copied (tegraflash.py 755, odmsign.func 644, wrapper 755)" sh -c "
	grep -qx './bootloader/tegraflash.py 755 f' '$R.tools' &&
	grep -qx './bootloader/odmsign.func 644 f' '$R.tools' &&
	grep -qx './bootloader/BUP_generator.py 755 f' '$R.tools' &&
	grep -qx './bootloader/BUP_generator.py.real 755 f' '$R.tools'"
check_eq "t186: links in the work directory" \
	"$(sorted "./BUP_generator.py -> $CWD/_tools/bootloader/BUP_generator.py" \
		"./rollback/rollback_parser.py -> $CWD/_tools/bootloader/rollback/rollback_parser.py" \
		"./tegraflash.py -> $CWD/_tools/bootloader/tegraflash.py")" \
	"$(cat "$R.links")"
# shellcheck disable=SC2086 # one word per member
check_eq "t186 R32.4.3: answer: only what signing made (unencrypted kernel sigheader removed)" \
	"$(sorted $SIGNED)" "$(members)"
check "t186: flashcmd.txt comes back, made for the machine" sh -c \
	"tar -xzOf '$T/out' ./flashcmd.txt | grep -q 'flash tegra186 for tx2'"
check "t186: the answer is application/octet-stream, Attachment signed-artifact.tar.gz" sh -c "
	curl -s -D - -o /dev/null -X POST -F machine=tx2 -F soctype=tegra186 -F bspversion=32.4.3 \
		-F artifact=@'$T/in1.tar.gz' '$URL/sign/tegra' | tr -d '\r' >'$T/h' &&
	grep -q '^HTTP/1.1 200' '$T/h' &&
	grep -qi '^Content-Type: application/octet-stream' '$T/h' &&
	grep -q '^Content-Disposition: Attachment; filename=\"signed-artifact.tar.gz\"' '$T/h'"
check "t186: as the bbclass runs it (curl --fail --output, then tar -x)" sh -c "
	curl --connect-timeout 30 --max-time 1800 --retry 4 --silent --fail -X POST \
		-F machine=tx2 -F soctype=tegra186 -F bspversion=32.4.3 -F artifact=@'$T/in1.tar.gz' \
		--output '$T/bb-out.tar.gz' '$URL/sign/tegra' &&
	mkdir -p '$T/bb' && tar -x -z -f '$T/bb-out.tar.gz' -C '$T/bb' && test -f '$T/bb/flashcmd.txt'"

# audit: one record for the job, with the SHA-256 of each answered file
if [ -f "$AUDIT" ]; then
	sum=$(tar -xzOf "$T/out" ./flashcmd.txt | sha256sum | cut -d' ' -f1)
	check "audit: a JSON record lists ./flashcmd.txt with its sha256" \
		python3 -c "
import json
recs = [json.loads(l) for l in open('$AUDIT') if l.strip()]
t = [json.dumps(r) for r in recs if 'flashcmd.txt' in json.dumps(r)]
assert t, 'no record naming flashcmd.txt'
assert '$sum' in t[-1], t[-1]
"
	check "audit: no key material in the trail" sh -c "
		! grep -q -F \"\$(sed -n 2p '$T/keycopy/tx2/tegrasign/rsa_priv.pem')\" '$AUDIT'"
else
	not_ok "audit: DIGSIGSERVER_AUDIT_FILE written" "no $AUDIT"
fi

# ============================================================================
# 2. tegra186, R32.7.4: tegrasign v3 scripts, encrypted kernel
# ============================================================================
check_eq "t186 R32.7.4: 200" 200 "$(post tx2 tegra186 32.7.4 "$T/in1.tar.gz")"
R=$(runs)
CWD=$(cat "$R.cwd")
check_eq "t186 R32.7.4: staged tools (v3 scripts, rewrite-tegraflash-args)" \
	"$(sorted ./bootloader/tegraflash.py ./bootloader/tegraflash_internal.py \
		./bootloader/BUP_generator.py ./bootloader/BUP_generator.py.real \
		./bootloader/odmsign.func ./bootloader/l4t_bup_gen.func \
		./bootloader/tegra186-flash-helper ./bootloader/nvflashxmlparse \
		./bootloader/rollback/rollback_parser.py ./bootloader/rollback/rollback_parser.py.real \
		./bootloader/rewrite-tegraflash-args ./tegra-signimage-helper ./l4t_sign_image.sh \
		./bootloader/tegrasign_v3.py ./bootloader/tegrasign_v3_internal.py \
		./bootloader/tegrasign_v3_util.py)" \
	"$(tools_files "$R")"
check "t186 R32.7.4: a link in the BSP is staged as a plain file" \
	grep -qx './bootloader/tegrasign_v3_util.py 644 f' "$R.tools"
check_eq "t186 R32.7.4: env PATH points at this BSP" \
	"$(expect_env "$R" "$T/mf1" L4T-32.7.4-tegra186 tx2)" "$(got_env "$R")"
# shellcheck disable=SC2086 # one word per member
check_eq "t186 R32.7.4: answer keeps the encrypted kernel's sigheader" \
	"$(sorted $SIGNED $KERNEL_SIGNED)" "$(members)"

# ============================================================================
# 3. tegra194 on the tegra186 tree, with SBK and user key
# ============================================================================
package_signed "t194 R32.4.3" 3 xavier tegra194 32.4.3
R=$(runs)
CWD=$(cat "$R.cwd")
PKC=$(sed -n 's/^3=//p' "$R.args")
SBK=$(sed -n 's/^5=//p' "$R.args")
UK=$(sed -n 's/^7=//p' "$R.args")
check "t194: helper tegra194-flash-helper from the tegra186 tree" \
	grep -qx "0=$CWD/_tools/bootloader/tegra194-flash-helper" "$R.args"
check_eq "t194: command line with -v sbk, --user_key, <m>.cfg,<m>-override.cfg" \
	"$(printf '%s\n' --no-flash -u "$PKC" -v "$SBK" --user_key "$UK" flash.xml.in "$DTB" \
		xavier.cfg,xavier-override.cfg 0x1090000 boot.img)" \
	"$(arg_lines "$R" | sed 1d)"
check_eq "t194: the three key files, 0600, as in the store" \
	"$(printf '%s\n' "-u 600 $(keysum xavier rsa_priv.pem)" "-v 600 $(keysum xavier sbk.txt)" \
		"--user_key 600 $(keysum xavier user_key.txt)")" "$(cat "$R.keys")"
check "t194: key files named sbk.txt and user_key.txt" sh -c \
	"[ \"\$(basename '$SBK')\" = sbk.txt ] && [ \"\$(basename '$UK')\" = user_key.txt ]"
check_eq "t194: exact environment" \
	"$(expect_env "$R" "$T/mf3" L4T-32.4.3-tegra186 xavier)" "$(got_env "$R")"
# shellcheck disable=SC2086 # one word per member
check_eq "t194 (<R34: encrypted kernel): answer" \
	"$(sorted $SIGNED $KERNEL_SIGNED)" "$(members)"

# EMMC_BCTS (DataCollect's bbclass) replaces the <machine>.cfg guess
{ manifest boot.img; echo "EMMC_BCTS=tegra194-mb1-bct.cfg,tegra194-sw-override.cfg"; } >"$P/MANIFEST"
pack "$P" "$T/in3b.tar.gz"
check_eq "t194 + EMMC_BCTS: 200" 200 "$(post xavier tegra194 32.4.3 "$T/in3b.tar.gz")"
R=$(runs)
check "t194 + EMMC_BCTS: passed verbatim" grep -qx '10=tegra194-mb1-bct.cfg,tegra194-sw-override.cfg' "$R.args"

# ============================================================================
# 4. tegra210, R32.7.4: ./ helper, boardcfg argument, no SBK
# ============================================================================
package_signed "t210" 4 nano tegra210 32.7.4
R=$(runs)
CWD=$(cat "$R.cwd")
PKC=$(sed -n 's/^3=//p' "$R.args")
check_eq "t210: ./tegra210-flash-helper, no -v (SBK unused), empty boardcfg argument" \
	"$(printf '%s\n' ./tegra210-flash-helper --no-flash -u "$PKC" flash.xml.in "$DTB" nano.cfg \
		0x1090000 '' boot.img)" \
	"$(arg_lines "$R")"
check_eq "t210: only the PKC key file" "-u 600 $(keysum nano rsa_priv.pem)" "$(cat "$R.keys")"
check_eq "t210: links (helper and .func files; no rollback)" \
	"$(sorted "./BUP_generator.py -> $CWD/_tools/bootloader/BUP_generator.py" \
		"./l4t_bup_gen.func -> $CWD/_tools/bootloader/l4t_bup_gen.func" \
		"./odmsign.func -> $CWD/_tools/bootloader/odmsign.func" \
		"./tegra210-flash-helper -> $CWD/_tools/bootloader/tegra210-flash-helper" \
		"./tegraflash.py -> $CWD/_tools/bootloader/tegraflash.py")" \
	"$(cat "$R.links")"
check_eq "t210 R32.7.4: staged tools (v3 support only, nvflashxmlparse, no rollback)" \
	"$(sorted ./bootloader/tegraflash.py ./bootloader/tegraflash_internal.py \
		./bootloader/BUP_generator.py ./bootloader/BUP_generator.py.real \
		./bootloader/odmsign.func ./bootloader/l4t_bup_gen.func \
		./bootloader/tegra210-flash-helper ./bootloader/nvflashxmlparse \
		./bootloader/tegrasign_v3.py ./bootloader/tegrasign_v3_internal.py \
		./bootloader/tegrasign_v3_util.py)" \
	"$(tools_files "$R")"
check_eq "t210: exact environment" \
	"$(expect_env "$R" "$T/mf4" L4T-32.7.4-tegra210 nano)" "$(got_env "$R")"
# shellcheck disable=SC2086 # one word per member
check_eq "t210: answer keeps flash.xml and the kernel sigheader" \
	"$(sorted $SIGNED ./flash.xml $KERNEL_SIGNED)" "$(members)"
manifest boot.img | grep -v '^boardcfg=' >"$P/MANIFEST"
pack "$P" "$T/in4b.tar.gz"
check_eq "t210 without boardcfg: 200" 200 "$(post nano tegra210 32.7.4 "$T/in4b.tar.gz")"
R=$(runs)
check_eq "t210 without boardcfg: no extra argument" \
	"$(printf '%s\n' flash.xml.in "$DTB" nano.cfg 0x1090000 boot.img)" \
	"$(arg_lines "$R" | sed 1,4d)"

# ============================================================================
# 5. tegra234, R35 and R36
# ============================================================================
mkpkg "$P" orin
{ manifest boot.img; echo "EMMC_BCTS=tegra234-bct.cfg"; } >"$P/MANIFEST"
cp "$P/MANIFEST" "$T/mf5"
pack "$P" "$T/in5.tar.gz"
check_eq "t234 R35.4.1: 200" 200 "$(post orin tegra234 35.4.1 "$T/in5.tar.gz")"
R=$(runs)
CWD=$(cat "$R.cwd")
R35="./bootloader/dtbcheck.py ./bootloader/tegraflash_impl_t234.py ./bootloader/t194.py
./bootloader/t234.py ./bootloader/ed25519.py ./bootloader/tegrasign_v3_hsm.py
./bootloader/tegraopenssl ./bootloader/pyfdt/__init__.py ./bootloader/pyfdt/pyfdt.py"
COMMON35="./bootloader/tegraflash.py ./bootloader/tegraflash_internal.py
./bootloader/BUP_generator.py ./bootloader/odmsign.func ./bootloader/l4t_bup_gen.func
./bootloader/tegra234-flash-helper ./bootloader/nvflashxmlparse
./bootloader/rollback/rollback_parser.py ./tegra-signimage-helper ./l4t_sign_image.sh
./bootloader/tegrasign_v3.py ./bootloader/tegrasign_v3_internal.py ./bootloader/tegrasign_v3_util.py"
# shellcheck disable=SC2086
check_eq "t234 R35: staged tools (R35 list, oemkey yaml, no python2 wrapping, no __pycache__)" \
	"$(sorted $COMMON35 $R35 ./bootloader/tegrasign_v3_oemkey.yaml)" "$(tools_files "$R")"
check_eq "t234 R35: BUP_generator.py (python3) copied as is" \
	"$(cat "$L4T/L4T-35.4.1-tegra234/Linux_for_Tegra/bootloader/BUP_generator.py")" \
	"$(cat "$R.wrap")"
check_eq "t234 R35: links (dtbcheck.py, t194.py, t234.py too)" \
	"$(sorted "./BUP_generator.py -> $CWD/_tools/bootloader/BUP_generator.py" \
		"./dtbcheck.py -> $CWD/_tools/bootloader/dtbcheck.py" \
		"./rollback/rollback_parser.py -> $CWD/_tools/bootloader/rollback/rollback_parser.py" \
		"./t194.py -> $CWD/_tools/bootloader/t194.py" \
		"./t234.py -> $CWD/_tools/bootloader/t234.py" \
		"./tegraflash.py -> $CWD/_tools/bootloader/tegraflash.py")" \
	"$(cat "$R.links")"
PKC=$(sed -n 's/^3=//p' "$R.args")
SBK=$(sed -n 's/^5=//p' "$R.args")
UK=$(sed -n 's/^7=//p' "$R.args")
check_eq "t234: command line (EMMC_BCTS, -v, --user_key)" \
	"$(printf '%s\n' --no-flash -u "$PKC" -v "$SBK" --user_key "$UK" flash.xml.in "$DTB" \
		tegra234-bct.cfg 0x1090000 boot.img)" \
	"$(arg_lines "$R" | sed 1d)"
check_eq "t234: exact environment" \
	"$(expect_env "$R" "$T/mf5" L4T-35.4.1-tegra234 orin)" "$(got_env "$R")"
# shellcheck disable=SC2086 # one word per member
check_eq "t234 (>=R34: kernel not encrypted): answer" \
	"$(sorted $SIGNED)" "$(members)"
check_eq "t234 R36.4.3: 200" 200 "$(post orin tegra234 36.4.3 "$T/in5.tar.gz")"
R=$(runs)
# shellcheck disable=SC2086
check_eq "t234 R36: staged tools (oemkey_t234 yaml)" \
	"$(sorted $COMMON35 $R35 ./bootloader/tegrasign_v3_oemkey_t234.yaml)" "$(tools_files "$R")"
check_eq "t194 R35.4.1 (tegra186 tree): 200" 200 "$(post xavier tegra194 35.4.1 "$T/in5.tar.gz")"
R=$(runs)
check "t194 R35: tegra194-flash-helper from L4T-35.4.1-tegra186" \
	grep -q "^PATH=.*/L4T-35.4.1-tegra186/Linux_for_Tegra:" "$R.env"

# ============================================================================
# 6. BUPGENSPECS: one --bup run per spec, upper-cased overrides
# ============================================================================
mkpkg "$P" tx2
{
	manifest boot.img | sed 's/^BOARDREV=$/BOARDREV=xyz/'
	echo "BUPGENSPECS=fab=B01;boardsku=0001;boardrev= fab=C04;boardsku=0002;boardrev=D.1;chiprev=2"
} >"$P/MANIFEST"
cp "$P/MANIFEST" "$T/mf6"
pack "$P" "$T/in6.tar.gz"
check_eq "BUPGENSPECS: 200" 200 "$(post tx2 tegra186 32.7.4 "$T/in6.tar.gz")"
check_eq "BUPGENSPECS: two runs" 2 "$(nruns)"
R1=$(runs | sed -n 1p)
R2=$(runs | sed -n 2p)
PKC=$(sed -n 's/^3=//p' "$R1.args")
check_eq "BUPGENSPECS: --bup command line" \
	"$(printf '%s\n' --bup -u "$PKC" flash.xml.in "$DTB" tx2.cfg 0x1090000 boot.img)" \
	"$(arg_lines "$R1" | sed 1d)"
check_eq "BUPGENSPECS: same command line for each spec" "$(arg_lines "$R1")" "$(arg_lines "$R2")"
check_eq "BUPGENSPECS: spec 1 environment (FAB, BOARDSKU, BOARDREV overridden)" \
	"$(expect_env "$R1" "$T/mf6" L4T-32.7.4-tegra186 tx2 FAB=B01 BOARDSKU=0001 BOARDREV=)" \
	"$(got_env "$R1")"
check_eq "BUPGENSPECS: spec 2 environment (and CHIPREV)" \
	"$(expect_env "$R2" "$T/mf6" L4T-32.7.4-tegra186 tx2 FAB=C04 BOARDSKU=0002 BOARDREV=D.1 CHIPREV=2)" \
	"$(got_env "$R2")"
check_eq "BUPGENSPECS: answer holds payloads* only" \
	"$(sorted ./payloads_t18x/ ./payloads_t18x/bl_update_payload.B01-0001-- \
		./payloads_t18x/bl_update_payload.C04-0002-D.1-2)" \
	"$(members)"

# legacy BUPGEN=1: one --no-flash run, payloads* only
{ manifest boot.img; echo "BUPGEN=1"; } >"$P/MANIFEST"
pack "$P" "$T/in6b.tar.gz"
check_eq "BUPGEN (legacy): 200" 200 "$(post tx2 tegra186 32.7.4 "$T/in6b.tar.gz")"
R=$(runs)
check "BUPGEN: --no-flash, one run" sh -c "[ $(nruns) -eq 1 ] && grep -qx '1=--no-flash' '$R.args'"
check_eq "BUPGEN: answer holds payloads* only" \
	"$(sorted ./payloads_t18x/ ./payloads_t18x/bl_update_payload)" "$(members)"

# ============================================================================
# 7. SIGNFILES: tegra-signimage-helper, only <file>.sig back
# ============================================================================
rm -rf "$P" && mkdir -p "$P"
echo "uefi" >"$P/uefi_jetson.bin"
echo "tos" >"$P/tos-optee_t234.img"
printf 'SIGNFILES=uefi_jetson.bin tos-optee_t234.img\n' >"$P/MANIFEST"
cp "$P/MANIFEST" "$T/mf7"
pack "$P" "$T/in7.tar.gz"
check_eq "SIGNFILES: 200" 200 "$(post orin tegra234 35.4.1 "$T/in7.tar.gz")"
R=$(runs)
PKC=$(sed -n 's/^3=//p' "$R.args")
check_eq "SIGNFILES: tegra-signimage-helper '--chip 0x23' -u pkc <every uploaded file>" \
	"$(printf '%s\n' tegra-signimage-helper '--chip 0x23' -u "$PKC" MANIFEST tos-optee_t234.img \
		uefi_jetson.bin)" \
	"$(arg_lines "$R" | sed '1s|.*/||')"
check "SIGNFILES: found in PATH (the staged copy)" grep -qx "0=$(cat "$R.cwd")/_tools/tegra-signimage-helper" "$R.args"
check_eq "SIGNFILES: PKC only" "-u 600 $(keysum orin rsa_priv.pem)" "$(cat "$R.keys")"
check_eq "SIGNFILES: exact environment" \
	"$(expect_env "$R" "$T/mf7" L4T-35.4.1-tegra234 orin)" "$(got_env "$R")"
check_eq "SIGNFILES: answer holds the .sig files only" \
	"$(sorted ./MANIFEST.sig ./tos-optee_t234.img.sig ./uefi_jetson.bin.sig)" "$(members)"
check_eq "SIGNFILES: .sig made from the uploaded file" \
	"$(sha256sum <"$P/uefi_jetson.bin" | cut -d' ' -f1)" "$(tar -xzOf "$T/out" ./uefi_jetson.bin.sig)"
check_eq "SIGNFILES on tegra210: --chip 0x21, tool from the BSP tree" 200 \
	"$(post nano tegra210 32.7.4 "$T/in7.tar.gz")"
R=$(runs)
check "SIGNFILES on tegra210: argv" sh -c "grep -qx '1=--chip 0x21' '$R.args' &&
	grep -qx '0=$L4T/L4T-32.7.4-tegra210/Linux_for_Tegra/tegra-signimage-helper' '$R.args'"

# ============================================================================
# 8. bad requests: 400 with a reason, the helper never runs
# ============================================================================
# expect400 DESC BODY-PREFIX MACHINE SOC VER TARBALL [curl args]
expect400() {
	_d=$1 _b=$2
	shift 2
	_c=$(post "$@")
	if [ "$_c" = 400 ] && body | grep -q "^$_b" && [ "$(nruns)" -eq 0 ]; then
		ok "$_d"
	else
		not_ok "$_d" "status $_c, body [$(body | head -c 200)], runs $(nruns)"
	fi
}
expect400 "artifact sent as text/plain: Invalid artifact" "Invalid artifact" \
	tx2 tegra186 32.7.4 "$T/in1.tar.gz;type=text/plain"
expect400 "no artifact: Invalid artifact" "Invalid artifact" tx2 tegra186 32.7.4 ""
expect400 "unknown soctype: Invalid parameters" "Invalid parameters" tx2 tegra999 32.7.4 "$T/in1.tar.gz"
expect400 "no soctype: Invalid parameters" "Invalid parameters" tx2 "" 32.7.4 "$T/in1.tar.gz"
expect400 "bspversion with two parts: Invalid parameters" "Invalid parameters" tx2 tegra186 32.7 "$T/in1.tar.gz"
expect400 "bspversion not numeric: Invalid parameters" "Invalid parameters" tx2 tegra186 32.x.4 "$T/in1.tar.gz"
expect400 "bspversion escaping the tools base: Invalid parameters" "Invalid parameters" \
	tx2 tegra186 "32.7.4-tegra186/../../../x" "$T/in1.tar.gz"
expect400 "no BSP tree for the version: Invalid parameters" "Invalid parameters" tx2 tegra186 32.9.9 "$T/in1.tar.gz"
expect400 "no tegra210 tree for R32.4.3: Invalid parameters" "Invalid parameters" nano tegra210 32.4.3 "$T/in1.tar.gz"
expect400 "no machine: Invalid parameters" "Invalid parameters" "" tegra186 32.7.4 "$T/in1.tar.gz"

badpkg() { # badpkg NAME: package from stdin's MANIFEST
	mkpkg "$P" tx2
	cat >"$P/MANIFEST"
	pack "$P" "$T/$1.tar.gz"
}
mkpkg "$P" tx2
pack "$P" "$T/nomf.tar.gz"
expect400 "no MANIFEST: Invalid manifest" "Invalid manifest" tx2 tegra186 32.7.4 "$T/nomf.tar.gz"
manifest boot.img | sed '3a\
' | badpkg emptyline
expect400 "empty line in MANIFEST: Invalid manifest (line 4)" "Invalid manifest.*line 4" \
	tx2 tegra186 32.7.4 "$T/emptyline.tar.gz"
{ manifest boot.img; echo "# a comment"; } | badpkg comment
expect400 "line without '=': Invalid manifest" "Invalid manifest" tx2 tegra186 32.7.4 "$T/comment.tar.gz"
{ manifest boot.img; printf 'X=\xff\n'; } | badpkg notutf8
expect400 "MANIFEST not UTF-8: Invalid manifest" "Invalid manifest" tx2 tegra186 32.7.4 "$T/notutf8.tar.gz"
for v in DTBFILE ODMDATA LNXFILE; do
	manifest boot.img | grep -v "^$v=" | badpkg "no$v"
	expect400 "MANIFEST without $v: 400 naming it" "Invalid manifest: $v missing" \
		tx2 tegra186 32.7.4 "$T/no$v.tar.gz"
done
# a link of the upload into what the server stages after the extraction:
# the helpers' writes through it would change the tools
for lnk in _tools/bootloader/BUP_generator.py tegraflash.py sub/../_tools \
	rollback/rollback_parser.py; do
	mkpkg "$P" tx2
	manifest boot.img >"$P/MANIFEST"
	ln -s "$lnk" "$P/bup.log"
	(cd "$P" && tar -czf "$T/stagedlink.tar.gz" -- *)
	expect400 "a link to $lnk: 400" "member bup.log: symbolic link to a name the server uses" \
		tx2 tegra186 32.7.4 "$T/stagedlink.tar.gz"
done
# inputs the helper needs, missing from the upload: 400 before it runs
mkpkg "$P" tx2
manifest boot.img >"$P/MANIFEST"
rm "$P/flash.xml.in"
pack "$P" "$T/noxml.tar.gz"
expect400 "no flash.xml.in: 400 naming it" "Invalid artifact: flash.xml.in missing" \
	tx2 tegra186 32.7.4 "$T/noxml.tar.gz"
manifest nosuch.img | badpkg nolnx
expect400 "LNXFILE names no file of the upload: 400 naming it" \
	"Invalid artifact: nosuch.img missing" tx2 tegra186 32.7.4 "$T/nolnx.tar.gz"
# ... or through a link of the upload at such a name, which the server
# replaces: the way would then lead into the tools
for pair in "_tools=d _tools/bootloader/BUP_generator.py" "BUP_generator.py=x BUP_generator.py" \
	"rollback=d rollback/rollback_parser.py"; do
	mkpkg "$P" tx2
	manifest boot.img >"$P/MANIFEST"
	mkdir -p "$P/d"
	at=${pair%%=*} rest=${pair#*=}
	ln -s "${rest%% *}" "$P/$at"
	ln -s "${rest#* }" "$P/bup.log"
	(cd "$P" && tar -czf "$T/stagedlink.tar.gz" -- *)
	expect400 "a link to ${rest#* } through the upload's $at -> ${rest%% *}: 400" \
		"member bup.log: symbolic link through a name the server uses" \
		tx2 tegra186 32.7.4 "$T/stagedlink.tar.gz"
done
manifest /etc/passwd | badpkg abslnx
expect400 "LNXFILE outside the artifact: 400" "Invalid manifest" tx2 tegra186 32.7.4 "$T/abslnx.tar.gz"
manifest boot.img | sed "s|^DTBFILE=.*|DTBFILE=../../$DTB|" | badpkg dotdot
expect400 "DTBFILE with ..: 400" "Invalid manifest" tx2 tegra186 32.7.4 "$T/dotdot.tar.gz"
for spec in "fab=B01=2" "fab" "fab=B01;" "fab=B01;;boardsku=1" "=B01" "fab=B01 boardsku"; do
	{ manifest boot.img; echo "BUPGENSPECS=$spec"; } | badpkg badspec
	expect400 "BUPGENSPECS '$spec': 400 Invalid BUPGENSPECS" "Invalid BUPGENSPECS" \
		tx2 tegra186 32.7.4 "$T/badspec.tar.gz"
done
# MANIFEST variables become the tool's environment: none that loads code
for v in LD_PRELOAD=./evil.so ld_library_path=. BASH_ENV=./x.sh ENV=./x.sh \
	PYTHONPATH=. PYTHONSTARTUP=./x.py PERL5OPT=-Mx PATH=. MACHINE=other \
	"BASH_FUNC_x%%=() { id; }" OPENSSL_CONF=./x.cnf GCONV_PATH=. "BAD-NAME=1" "1X=1"; do
	{ manifest boot.img; echo "$v"; } | badpkg envvar
	expect400 "MANIFEST ${v%%=*}: 400, not passed to the tool" "Invalid manifest" \
		tx2 tegra186 32.7.4 "$T/envvar.tar.gz"
done
for spec in "ld_preload=./evil.so" "fab=B01;BASH_ENV=./x.sh" "pythonpath=."; do
	{ manifest boot.img; echo "BUPGENSPECS=$spec"; } | badpkg badspec
	expect400 "BUPGENSPECS setting '$spec': 400" "Invalid BUPGENSPECS" \
		tx2 tegra186 32.7.4 "$T/badspec.tar.gz"
done
{ manifest boot.img; echo "BUPGENSPECS=  "; } | badpkg nospec
expect400 "BUPGENSPECS without a spec: 400" "Invalid BUPGENSPECS" tx2 tegra186 32.7.4 "$T/nospec.tar.gz"
python3 - "$T/evil.tar.gz" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    for name, data in (("MANIFEST", b"DTBFILE=a\nODMDATA=1\nLNXFILE=b\n"), ("../escape", b"x")):
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
EOF
expect400 "member escaping the job directory: 400" "" tx2 tegra186 32.7.4 "$T/evil.tar.gz"
check "nothing was written outside the work directory" test ! -e "$DSS_WORK/escape"
head -c 1000 /dev/urandom >"$T/notgz.tar.gz"
expect400 "artifact not a tar.gz: 400" "" tx2 tegra186 32.7.4 "$T/notgz.tar.gz"
c=$(post nokeys tegra186 32.7.4 "$T/in1.tar.gz")
check "machine without keys: 4xx, helper not run" sh -c "[ '${c:0:1}' = 4 ] && [ $(nruns) -eq 0 ]"

# ============================================================================
# 9. a failing helper: 500 Signing error, its output in the log, never a key
# ============================================================================
mkpkg "$P" tx2
{ manifest boot.img; echo "FAKE_FAIL=1"; } >"$P/MANIFEST"
pack "$P" "$T/fail.tar.gz"
: >"$T/log.before"
lines_before=$(wc -l <"$DSS_LOG")
check_eq "failing helper: 500" 500 "$(post tx2 tegra186 32.7.4 "$T/fail.tar.gz")"
check_eq "failing helper: body Signing error" "Signing error" "$(body)"
# the job's request log line comes after everything else it logs
wait_for 10 sh -c "tail -n +$((lines_before + 1)) '$DSS_LOG' | grep -q 'path=/sign/tegra .*status=500'"
tail -n +"$((lines_before + 1))" "$DSS_LOG" >"$T/faillog"
check "failing helper: exit status at warning level" grep -q 'warning.*tegra186-flash-helper failed: exit status 3' "$T/faillog"
check "failing helper: its last output lines at warning level" \
	grep -q 'warning.*fake helper: signing failed' "$T/faillog"
check "failing helper: the key it printed is masked" grep -q 'warning.*| \*\*\*' "$T/faillog"
check "failing helper: no key material anywhere in the log" sh -c "
	for l in \$(grep -v -- ----- '$T/keycopy/tx2/tegrasign/rsa_priv.pem'); do
		grep -q -F \"\$l\" '$DSS_LOG' && exit 1
	done; exit 0"
check "failing helper: no 16-character run of the key, in base64 or hex, in the log" python3 -c "
import base64, re, subprocess, sys
pem = open('$T/keycopy/tx2/tegrasign/rsa_priv.pem', 'rb').read()
b64 = b''.join(l for l in pem.splitlines() if not l.startswith(b'-----')).decode()
der = subprocess.run(['openssl', 'pkey', '-in', '$T/keycopy/tx2/tegrasign/rsa_priv.pem',
    '-outform', 'DER'], capture_output=True).stdout
hexes = [pem.hex(), der.hex()]
log = open('$DSS_LOG', errors='replace').read()
flat = re.sub(r'\\s', '', log)
hexlog = re.sub(r'[^0-9a-f]', '', log.lower())
for i in range(0, len(b64) - 16, 4):
    if b64[i:i + 16] in flat:
        sys.exit('base64 run at %d in the log' % i)
for h in hexes:
    for i in range(0, len(h) - 16, 2):
        if h[i:i + 16] in hexlog:
            sys.exit('hex run at %d in the log' % i)
"
check "SBK words never in the log" sh -c "! grep -q -e 0x0badcafe -e 0xfeedface '$DSS_LOG'"

# ============================================================================
# 10. /status shows the running step
# ============================================================================
mkpkg "$P" tx2
{ manifest boot.img; echo "FAKE_SLEEP=1"; echo "BUPGENSPECS=fab=1 fab=2"; } >"$P/MANIFEST"
pack "$P" "$T/slow.tar.gz"
post tx2 tegra186 32.7.4 "$T/slow.tar.gz" >"$T/slow.code" &
bg=$!
seen1= seen2=
for _ in $(seq 1 60); do
	s=$(curl -s "$URL/status")
	case $s in *'bupgen spec 1/2'*) seen1=1 ;; esac
	case $s in *'bupgen spec 2/2'*) seen2=1 ;; esac
	[ -n "$seen2" ] && break
	sleep 0.1
done
wait $bg
check_eq "progress: job ends 200" 200 "$(cat "$T/slow.code")"
check "progress: /status showed 'bupgen spec 1/2' then 'bupgen spec 2/2'" test -n "$seen1" -a -n "$seen2"

# ============================================================================
# 11. two jobs at once: separate workers, separate files
# ============================================================================
mkpkg "$P" tx2
{ manifest boot.img; echo "FAKE_SLEEP=2"; } >"$P/MANIFEST"
pack "$P" "$T/par1.tar.gz"
mkpkg "$P" xavier
{ manifest boot.img; echo "FAKE_SLEEP=2"; } >"$P/MANIFEST"
pack "$P" "$T/par2.tar.gz"
rm -f "$REC"/*
curl -s -o "$T/par1.out" -w '%{http_code}' -X POST -F machine=tx2 -F soctype=tegra186 \
	-F bspversion=32.7.4 -F artifact=@"$T/par1.tar.gz" "$URL/sign/tegra" >"$T/par1.code" &
p1=$!
curl -s -o "$T/par2.out" -w '%{http_code}' -X POST -F machine=xavier -F soctype=tegra194 \
	-F bspversion=32.4.3 -F artifact=@"$T/par2.tar.gz" "$URL/sign/tegra" >"$T/par2.code" &
p2=$!
wait $p1 $p2
check_eq "parallel: both 200" "200 200" "$(cat "$T/par1.code") $(cat "$T/par2.code")"
check_eq "parallel: two helper runs" 2 "$(nruns)"
RA=$(runs | sed -n 1p)
RB=$(runs | sed -n 2p)
check "parallel: different work directories and tool copies" \
	test "$(cat "$RA.cwd")" != "$(cat "$RB.cwd")"
check "parallel: the runs overlapped in time" python3 -c "
a = [float(x) for x in open('$RA.time').read().split()]
b = [float(x) for x in open('$RB.time').read().split()]
assert a[0] < b[1] and b[0] < a[1], (a, b)"
check "parallel: each answer is its own" sh -c "
	tar -xzOf '$T/par1.out' ./flashcmd.txt | grep -q 'tegra186 for tx2' &&
	tar -xzOf '$T/par2.out' ./flashcmd.txt | grep -q 'tegra194 for xavier'"

# ============================================================================
# 12. a hanging helper: 504, its whole group killed, the pool refilled
# ============================================================================
dss_stop
dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_RESPONSE_TIMEOUT=2 \
	DIGSIGSERVER_WORKERS=2 || exit 0
mkpkg "$P" tx2
{ manifest boot.img; echo "FAKE_HANG=1"; } >"$P/MANIFEST"
pack "$P" "$T/hang.tar.gz"
t0=$(date +%s)
check_eq "hanging helper: 504" 504 "$(post tx2 tegra186 32.7.4 "$T/hang.tar.gz")"
check "hanging helper: answered near RESPONSE_TIMEOUT=2, not at curl's 120 s" test $(($(date +%s) - t0)) -le 20
R=$(runs)
check "hanging helper: the helper and its background child are gone" wait_for 10 sh -c "
	for p in \$(cat '$R.bgpid') \$(cat '$R.pgid'); do
		[ -d /proc/\$p ] && ! grep -q '^State:.*Z' /proc/\$p/status 2>/dev/null && exit 1
	done; exit 0"
idle2() { [ "$(status_field "d['pool']['idle']" 2>/dev/null)" = 2 ]; }
check "hanging helper: pool refilled (/status idle = 2)" wait_for 10 idle2
check_eq "hanging helper: /status counts the timeout" 1 "$(status_field "d['totals']['timeouts']")"
check "hanging helper: its job directory is gone" wait_for 10 no_job_dirs
check_eq "after the timeout, the next job signs" 200 "$(post tx2 tegra186 32.7.4 "$T/in1.tar.gz")"

# ============================================================================
# 13. hostile uploads: nothing from the upload runs, nothing outlives the job,
#     the helper sees neither the key store nor other jobs
# ============================================================================
dss_stop
TOKF=$T/tokens
printf 'ci-bot tegra * sha256:%s\n' \
	"$(printf 0123456789abcdef0123456789abcdef | sha256sum | cut -d' ' -f1)" >"$TOKF"
dss_own "$TOKF"
chmod 0600 "$TOKF"
dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_AUDIT_FILE="$AUDIT" \
	DIGSIGSERVER_TOKENS_FILE="$TOKF" DIGSIGSERVER_WORKERS=2 || exit 0
AUTH=(-H "Authorization: Bearer 0123456789abcdef0123456789abcdef")
PWN=$T/pwned
# hostile_fv FILE-CONTENT DESC: a package whose flashvars is FILE-CONTENT
hostile_fv() {
	mkpkg "$P" tx2
	manifest boot.img >"$P/MANIFEST"
	printf '%s\n' "$1" >"$P/flashvars"
	pack "$P" "$T/hfv.tar.gz"
	_c=$(post tx2 tegra186 32.7.4 "$T/hfv.tar.gz" "${AUTH[@]}")
	if [ "$_c" = 400 ] && body | grep -q '^Invalid artifact: flashvars line' && [ "$(nruns)" -eq 0 ]; then
		ok "$2"
	else
		not_ok "$2" "status $_c, body [$(body | head -c 200)], runs $(nruns)"
	fi
}
hostile_fv "cp \"\$keyfile\" ./stolen.pem; tar -cf ./store.tar $KEYS" \
	"flashvars copying the key and the store: 400 Invalid artifact, helper never runs"
hostile_fv 'BPFDTB_FILE="x$(touch '"$PWN"'.fv1)"' "flashvars value with \$(...): 400"
hostile_fv 'BPFDTB_FILE=`touch '"$PWN"'.fv2`' "flashvars value with backquotes: 400"
hostile_fv '( setsid sleep 25 & )' "flashvars starting a setsid survivor: 400"
hostile_fv 'BPFDTB_FILE=a.dtb; touch '"$PWN"'.fv3' "flashvars with a second command after ';': 400"
hostile_fv 'BPFDTB_FILE=a.dtb touch' "flashvars with a bare space (a command with an assignment): 400"
hostile_fv 'BPFDTB_FILE="a.dtb' "flashvars with a quote that does not close: 400"
hostile_fv 'binargs="--bins x"' "flashvars setting a helper's internal variable: 400"
hostile_fv 'FLASHVARS="BPFDTB_FILE $(id)"' "FLASHVARS listing something that is not a name: 400"
hostile_fv 'BPFDTB_FILE=a>b' "flashvars with a redirection: 400"
check "no code from the flashvars tests ran" sh -c "! ls '$PWN'.* 2>/dev/null | grep -q ."
check "no stolen key or store copy anywhere in the work dir" \
	sh -c "! find '$DSS_WORK' -name stolen.pem -o -name store.tar | grep -q ."

# bsp_version is sourced too
mkpkg "$P" tx2
manifest boot.img >"$P/MANIFEST"
echo 'BSP_BRANCH=$(touch '"$PWN"'.bsp)' >"$P/bsp_version"
pack "$P" "$T/hbsp.tar.gz"
check_eq "bsp_version with \$(...): 400" 400 "$(post tx2 tegra186 32.7.4 "$T/hbsp.tar.gz" "${AUTH[@]}")"
check "bsp_version: the reason names it, the helper never ran" \
	sh -c "grep -q '^Invalid artifact: bsp_version line 1' '$T/out' && [ $(nruns) -eq 0 ]"
mkpkg "$P" tx2
manifest boot.img >"$P/MANIFEST"
rm "$P/flashvars"
mkdir "$P/flashvars"
pack "$P" "$T/hdir.tar.gz"
check_eq "flashvars that is not a regular file: 400" 400 "$(post tx2 tegra186 32.7.4 "$T/hdir.tar.gz" "${AUTH[@]}")"

# ODMDATA is evaluated inside the helpers' command lines
for odm in '$(touch '"$PWN"'.odm)' '0x1`id`' '0x1;id' 'a b' '0x1|id'; do
	mkpkg "$P" tx2
	{ manifest boot.img | grep -v '^ODMDATA='; printf 'ODMDATA=%s\n' "$odm"; } >"$P/MANIFEST"
	pack "$P" "$T/hodm.tar.gz"
	c=$(post tx2 tegra186 32.7.4 "$T/hodm.tar.gz" "${AUTH[@]}")
	check "ODMDATA '$odm': 400 Invalid artifact, the helper never runs" \
		sh -c "[ '$c' = 400 ] && grep -q '^Invalid artifact: ODMDATA' '$T/out' && [ $(nruns) -eq 0 ]"
done
check "no code from the ODMDATA tests ran" test ! -e "$PWN.odm"
for odm in 0xB8190000 gbe-uphy-config-22,hsstp-lane-map-3,nvhs-uphy-config-0; do
	mkpkg "$P" tx2
	{ manifest boot.img | grep -v '^ODMDATA='; printf 'ODMDATA=%s\n' "$odm"; } >"$P/MANIFEST"
	pack "$P" "$T/odm.tar.gz"
	check_eq "ODMDATA '$odm' (a real form) signs" 200 "$(post tx2 tegra186 32.7.4 "$T/odm.tar.gz" "${AUTH[@]}")"
done

# other MANIFEST values and names
for kv in 'BOARDID=3310$(id)' 'FAB=B0`id`' 'BOARDSKU=1;id' 'boardcfg=a|b' 'CHIPREV=1 2'; do
	mkpkg "$P" tx2
	{ manifest boot.img | grep -v "^${kv%%=*}="; printf '%s\n' "$kv"; } >"$P/MANIFEST"
	pack "$P" "$T/hkv.tar.gz"
	c=$(post tx2 tegra186 32.7.4 "$T/hkv.tar.gz" "${AUTH[@]}")
	check "MANIFEST $kv: 400, the helper never runs" sh -c "[ '$c' = 400 ] && [ $(nruns) -eq 0 ]"
done
# a value longer than execve takes for one argument (128 KiB): the
# upload's 400 naming why, not the 500 of a helper that cannot start
mkpkg "$P" tx2
{ manifest boot.img | grep -v '^BOARDSKU='; printf 'BOARDSKU=%0131100d\n' 1; } >"$P/MANIFEST"
pack "$P" "$T/hlong.tar.gz"
c=$(post tx2 tegra186 32.7.4 "$T/hlong.tar.gz" "${AUTH[@]}")
check_eq "MANIFEST BOARDSKU of 131100 digits: 400 naming the limit" \
	"400 Invalid parameters: tegra186-flash-helper would get an argument of" \
	"$c $(cut -d' ' -f1-8 "$T/out")"
check_eq "  ... the helper never ran" 0 "$(nruns)"
mkpkg "$P" tx2
{ manifest boot.img; echo 'BUPGENSPECS=fab=B01;boardsku=$(id)'; } >"$P/MANIFEST"
pack "$P" "$T/hspec.tar.gz"
check_eq "BUPGENSPECS value with \$(...): 400" 400 "$(post tx2 tegra186 32.7.4 "$T/hspec.tar.gz" "${AUTH[@]}")"
mkpkg "$P" tx2
manifest -boot.img >"$P/MANIFEST"
mv "$P/boot.img" "$P/-boot.img"
pack "$P" "$T/hdash.tar.gz"
check_eq "LNXFILE starting with '-': 400" 400 "$(post tx2 tegra186 32.7.4 "$T/hdash.tar.gz" "${AUTH[@]}")"
mkpkg "$P" tx2
manifest boot.img >"$P/MANIFEST"
echo x >"$P/-rf"
pack "$P" "$T/hdash2.tar.gz"
check_eq "an uploaded file named '-rf': 400" 400 "$(post tx2 tegra186 32.7.4 "$T/hdash2.tar.gz" "${AUTH[@]}")"

# TAR_OPTIONS and other variables the helpers do not read never reach them
mkpkg "$P" tx2
{ manifest boot.img; echo "TAR_OPTIONS=--checkpoint=1 --checkpoint-action=exec=touch$PWN.tar"
  echo "binargs=--bins x"; } >"$P/MANIFEST"
pack "$P" "$T/htar.tar.gz"
check_eq "MANIFEST TAR_OPTIONS: the job signs" 200 "$(post tx2 tegra186 32.7.4 "$T/htar.tar.gz" "${AUTH[@]}")"
R=$(runs)
check "MANIFEST TAR_OPTIONS: not in the helper's environment, tar ran nothing" \
	sh -c "! grep -q -e '^TAR_OPTIONS=' -e '^binargs=' '$R.env' && [ ! -e '$PWN.tar' ]"

# a valid package: the helper sourced the server's copy of the right values
mkpkg "$P" orin
manifest boot.img >"$P/MANIFEST"
pack "$P" "$T/good.tar.gz"
check_eq "valid flashvars and bsp_version: 200" 200 "$(post orin tegra234 35.4.1 "$T/good.tar.gz" "${AUTH[@]}")"
R=$(runs)
check "the helper sourced the flash variables and the BSP version" sh -c "
	grep -qx \"BPFDTB_FILE='tegra234-bpmp-3701-0000-3737-0000.dtb'\" '$R.fv' &&
	grep -qx \"UPHY_CONFIG='--uphy tegra234-mb1-bct-uphylane-si.dtsi'\" '$R.fv' &&
	grep -qx \"CHIP_SKU='00:00:00:D0'\" '$R.fv' && grep -qx \"BSP_MAJOR='4'\" '$R.fv'"

# the tegra210 helper runs commands from its own directory, the upload: an
# uploaded executable must not run; uploaded modes come back in the answer
mkpkg "$P" nano
{ manifest boot.img; echo "BUPGEN=1"; } >"$P/MANIFEST"
printf '#!/bin/sh\ntouch %s\n' "$PWN.path" >"$P/nvflashxmlparse"
chmod 0755 "$P/nvflashxmlparse"
mkdir -p "$P/payloads_t21x"
printf '#!/bin/sh\n' >"$P/payloads_t21x/run.sh"
chmod 0755 "$P/payloads_t21x/run.sh"
printf 'x' >"$P/payloads_t21x/odd"
chmod 0100 "$P/payloads_t21x/odd"
pack "$P" "$T/hpath.tar.gz"
check_eq "tegra210 with an uploaded nvflashxmlparse: 200" 200 "$(post nano tegra210 32.7.4 "$T/hpath.tar.gz" "${AUTH[@]}")"
check "the uploaded nvflashxmlparse did not run" test ! -e "$PWN.path"
check "an uploaded executable kept in the answer keeps its mode" sh -c "
	tar -tvzf '$T/out' | grep -q '^-rwx.* ./payloads_t21x/run.sh\$'"
check "... one of mode 0100 comes back readable by its owner (0700)" sh -c "
	tar -tvzf '$T/out' | grep -q '^-rwx------ .* ./payloads_t21x/odd\$'"
# the same with the script at a path longer than PATH_MAX once below the
# work directory, reached through a link named nvflashxmlparse
mkpkg "$P" nano
{ manifest boot.img; echo "BUPGEN=1"; } >"$P/MANIFEST"
python3 - "$P" "$T/hlong.tar.gz" "$PWN.long" <<'EOF'
import io, os, sys, tarfile
pkg, out, pwn = sys.argv[1:4]
deep = "payloads_t21x/" + "/".join("d%02d" % i + "x" * 247 for i in range(16)) + "/" + "p" * 40
script = ("#!/bin/sh\ntouch %s; echo ran >payloads_t21x/ran\n" % pwn).encode()
with tarfile.open(out, "w:gz", format=tarfile.GNU_FORMAT) as t:
    for n in sorted(os.listdir(pkg)):
        t.add(os.path.join(pkg, n), arcname=n)
    i = tarfile.TarInfo(deep)
    i.size, i.mode = len(script), 0o755
    t.addfile(i, io.BytesIO(script))
    i = tarfile.TarInfo("nvflashxmlparse")
    i.type, i.linkname = tarfile.SYMTYPE, deep
    t.addfile(i)
EOF
check_eq "tegra210 with nvflashxmlparse a link to a script at a 4 KiB path: 200" 200 \
	"$(post nano tegra210 32.7.4 "$T/hlong.tar.gz" "${AUTH[@]}")"
check "... the script did not run" sh -c "[ ! -e '$PWN.long' ] && ! tar -tzf '$T/out' | grep -q ran"
check "... and keeps its mode in the answer" sh -c "
	tar -tvzf '$T/out' | grep -q '^-rwx.* ./payloads_t21x/d00x.*/pppp*\$'"

# what the helper sees: its own job, not the key store, not the tokens, not
# the audit trail, not another job running at the same time.
# probe_confinement LABEL: checked with the running daemon, LABEL in
# each check's name
probe_confinement() {
	mkpkg "$P" tx2
	{ manifest boot.img; echo "FAKE_SLEEP=3"; } >"$P/MANIFEST"
	pack "$P" "$T/slow1.tar.gz"
	rm -f "$REC"/*
	curl -s -o /dev/null -X POST -F machine=tx2 -F soctype=tegra186 -F bspversion=32.7.4 \
		-F artifact=@"$T/slow1.tar.gz" "${AUTH[@]}" "$URL/sign/tegra" &
	bg=$!
	wait_for 20 sh -c "ls '$REC'/*.args >/dev/null 2>&1"
	# (whole or not at all: the running helper may look for it now)
	printf '%s\n' "$KEYS/tx2/tegrasign/rsa_priv.pem" "$KEYS" "$TOKF" "$AUDIT" >"$REC/probe.tmp"
	mv "$REC/probe.tmp" "$REC/probe"
	curl -s -o "$T/out" -X POST -F machine=tx2 -F soctype=tegra186 -F bspversion=32.7.4 \
		-F artifact=@"$T/in1.tar.gz" "${AUTH[@]}" "$URL/sign/tegra" >/dev/null
	wait $bg
	R2=$(ls "$REC"/*.probe 2>/dev/null | head -1)
	R2=${R2%.probe}
	check_eq "the helper cannot read the key store, the tokens or the audit trail$1" \
		"$(sed 's/^/hidden /' "$REC/probe")" "$(cat "$R2.probe" 2>/dev/null)"
	check_eq "the helper sees only its own job in the work directory (another job runs)$1" \
		1 "$(grep -c . "$R2.workdir" 2>/dev/null)"
	check "the helper could still read its own key file (0600 in its job)$1" grep -q '^-u 600 ' "$R2.keys"
	rm -f "$REC/probe"
}
probe_confinement ""

# nothing a helper starts outlives its job: a process in a new session
mkpkg "$P" tx2
{ manifest boot.img; echo "FAKE_ESCAPE=1"; } >"$P/MANIFEST"
pack "$P" "$T/esc.tar.gz"
check_eq "a helper leaving a setsid process behind: 200" 200 "$(post tx2 tegra186 32.7.4 "$T/esc.tar.gz" "${AUTH[@]}")"
R=$(runs)
esc=$(cat "$R.escpid" 2>/dev/null)
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
check "the setsid process is gone when the answer arrives" sh -c "[ -n '$esc' ] && ! kill -0 '$esc' 2>/dev/null"

# the same on a kernel without open_tree (before 5.2; valgrind does not
# know it either): the helper is confined another way, not left unconfined
# (not with a sanitizer: its runtime must be the first library loaded)
if [ -z "${DSS_SANITIZED:-}${DSS_VALGRIND:-}" ]; then
	mkdir -p "$T/mark"
	chmod 1777 "$T/mark"
	if cc -shared -fPIC -O2 -o "$T/noopentree.so" "$SRC/t/fixtures/noopentree.c" -ldl; then
		dss_start LD_PRELOAD="$T/noopentree.so" NOOPENTREE_MARK="$T/mark/open_tree" \
			DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_AUDIT_FILE="$AUDIT" \
			DIGSIGSERVER_TOKENS_FILE="$TOKF" DIGSIGSERVER_WORKERS=2 || exit 0
		probe_confinement " (no open_tree)"
		check "... open_tree was asked for and refused" test -s "$T/mark/open_tree"
	else
		not_ok "building t/fixtures/noopentree.c"
	fi
fi

dss_stop
dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_RESPONSE_TIMEOUT=2 \
	DIGSIGSERVER_WORKERS=2 || exit 0
mkpkg "$P" tx2
{ manifest boot.img; echo "FAKE_ESCAPE=1"; echo "FAKE_HANG=1"; } >"$P/MANIFEST"
pack "$P" "$T/eschang.tar.gz"
check_eq "a hanging helper with a setsid process: 504" 504 "$(post tx2 tegra186 32.7.4 "$T/eschang.tar.gz")"
R=$(runs)
esc=$(cat "$R.escpid" 2>/dev/null)
if [ -n "$esc" ] && wait_for 10 gone "$esc"; then
	ok "after the timeout the setsid process is killed too (by the supervisor)"
else
	not_ok "after the timeout the setsid process is killed too (by the supervisor)" "pid [$esc]"
fi

dss_stop
exit 0
