#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Peer test: trace-cmd report (Debian's 3.1) reads every file virt-trace merge writes,
# without a warning, in v7 and v6, and shows the same events, timestamps and order
# (host and guest interleaved) as virt-trace report.
. "$(dirname "$0")/lib.sh"
vt_time_limit 240
vt_need_cmd trace-cmd python3
[ -x "$VT_CLI" ] || vt_fail "$VT_CLI not built"
GEN=$VT_BUILD_DIR/tests/vt-gen
[ -x "$GEN" ] || vt_fail "$GEN not built"
vt_workdir peer

check_one()
{
	local sc=$1 ver=$2 dir=$sc-v$ver guests=() labels=() pidopt=()
	mkdir -p "$dir/in"
	"$GEN" pair -o "$dir/in" --scenario "$sc" --events 3000 --file-version "$ver" >/dev/null ||
		vt_fail "$sc: vt-gen failed"
	guests=(--guest "$dir/in/guest.dat")
	labels=(guest.dat=guest)
	if [ -f "$dir/in/guest-boot2.dat" ]; then
		guests+=(--guest "$dir/in/guest-boot2.dat")
		labels+=(guest-boot2.dat=guest-boot2)
	fi
	# the VM's QEMU pid: the tgid of the first vCPU thread in expect.txt
	if [ "$sc" = noise ]; then
		local tid
		tid=$(sed -n 's/^# write .*tid=\([0-9]*\).*/\1/p' "$dir/in/expect.txt" | head -1)
		pidopt=(--pid "$(awk -v t="$tid" '$1 == t { print $2 }' "$dir/in/saved_tgids")"
			--tgids "$dir/in/saved_tgids")
	fi
	"$VT_CLI" merge --host "$dir/in/host.dat" "${guests[@]}" "${pidopt[@]}" \
		--file-version "$ver" -o "$dir/out" || vt_fail "$sc v$ver: merge failed"
	local f inputs=()
	for f in "$dir"/out/*.dat; do
		trace-cmd report -i "$f" >"$f.report" 2>&1 || vt_fail "$sc v$ver: trace-cmd report $f failed"
		if grep -Eqi 'warning|error|unknown|bad' "$f.report"; then
			grep -Ei 'warning|error|unknown|bad' "$f.report" | head -3
			vt_fail "$sc v$ver: trace-cmd report complains about $(basename "$f")"
		fi
		trace-cmd dump --summary -i "$f" 2>&1 | grep -q "\[Version\]" ||
			vt_fail "$sc v$ver: trace-cmd dump cannot read $(basename "$f")"
		trace-cmd dump --summary -i "$f" 2>&1 | grep -q "^[[:space:]]*$ver[[:space:]]*\[Version\]" ||
			vt_fail "$sc v$ver: $(basename "$f") is not version $ver"
	done
	inputs=(-i "$dir/out/host.dat" -i "$dir/out/guest.dat")
	[ -f "$dir/out/guest-boot2.dat" ] && inputs+=(-i "$dir/out/guest-boot2.dat")
	trace-cmd report -t --raw-ts "${inputs[@]}" >"$dir/trace-cmd.txt" 2>&1 ||
		vt_fail "$sc v$ver: trace-cmd report of the merged files failed"
	VT_REPORT_WORKERS=0 "$VT_CLI" report --json "$dir/out" >"$dir/virt-trace.json" ||
		vt_fail "$sc v$ver: virt-trace report failed"
	# the threaded formatter prints the same, in the same order
	VT_REPORT_WORKERS=2 VT_REPORT_BATCH=97 "$VT_CLI" report --json "$dir/out" | cmp -s - "$dir/virt-trace.json" ||
		vt_fail "$sc v$ver: threaded report differs from the serial one"
	VT_REPORT_WORKERS=0 "$VT_CLI" report "$dir/out" >"$dir/virt-trace.txt" ||
		vt_fail "$sc v$ver: virt-trace report (text) failed"
	VT_REPORT_WORKERS=2 VT_REPORT_BATCH=97 "$VT_CLI" report "$dir/out" | cmp -s - "$dir/virt-trace.txt" ||
		vt_fail "$sc v$ver: threaded text report differs from the serial one"
	local res
	res=$(python3 "$VT_SOURCE_DIR/tests/e2e/peer-compare.py" "$dir/virt-trace.json" \
		"$dir/trace-cmd.txt" "${labels[@]}") || vt_fail "$sc v$ver: $res"
	# a guest event must have come through
	grep -q '"side":"guest"' "$dir/virt-trace.json" || vt_fail "$sc v$ver: no guest events"
	vt_log "$sc v$ver: $res"
}

for sc in boot forward backward two-vcpus two-boots noise; do
	for ver in 7 6; do
		check_one "$sc" "$ver"
	done
done
echo "PASS: trace-cmd report reads every file and agrees with virt-trace report"
