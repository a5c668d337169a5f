#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The run-store verbs without libvirt: a store (VT_STATE_DIR) holding runs made
# by `virt-trace merge` from vt-gen fixtures; list, show, path, report, verify
# and export by DOMAIN [RUN] and by directory, status and recover with no
# recorder, and the one-line errors. Runs in every build (ASan included).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 60 "$@"

VT_GEN=$VT_BUILD_DIR/tests/vt-gen
[ -x "$VT_CLI" ] || vt_skip "$VT_CLI not built"
[ -x "$VT_GEN" ] || vt_skip "$VT_GEN not built"
vt_need_cmd tar python3
tar --zstd --version >/dev/null 2>&1 || vt_skip "tar without --zstd"
vt_workdir cli-store
export VT_STATE_DIR=$VT_WORK/store VT_RUN_DIR=$VT_WORK/run
V=$VT_CLI

"$VT_GEN" pair -o in --vcpus 2 >/dev/null 2>&1 || vt_fail "vt-gen failed"
pid=$(awk '$1 == $2 { print $1; exit }' in/saved_tgids)
# one domain with an odd name (escaped on disk), two runs; one run left recording
dom='vm 1:x'
esc='vm%201%3Ax'
mkrun()
{
	local d=$1 id=$2 state=$3 dir=$VT_STATE_DIR/$1/$2
	mkdir -p "$VT_STATE_DIR/$d"
	"$V" merge --host in/host.dat --guest in/guest.dat --pid "$pid" --tgids in/saved_tgids \
		-o "$dir" >/dev/null || vt_fail "merge into $dir failed"
	python3 - "$dir/manifest.json" "$4" "$id" "$state" <<'PY'
import json, sys
p, name, rid, state = sys.argv[1:]
m = json.load(open(p))
sb = m.get('guest_sandbox', {})
if not (sb.get('no_new_privs') and sb.get('capabilities') == '0x0' and
        (sb.get('writes_confined') or not sb.get('landlock_abi'))):
    sys.exit('FAIL: merge did not run sandboxed: %r' % sb)
m.update(domain={'name': name, 'uuid': '00000000-0000-0000-0000-000000000001'}, run_id=rid,
         state=state, started='2026-12-01T10:00:00Z', finished='2026-12-01T10:01:05Z')
m['warnings'].append('a warning for show')
json.dump(m, open(p, 'w'), indent=1)
PY
	ln -sfn "$id" "$VT_STATE_DIR/$d/latest"
}
mkrun "$esc" 20261201T100000Z complete "$dom"
mkrun "$esc" 20261201T110000Z complete "$dom"
mkrun vm2 20261201T120000Z recording vm2

"$V" list >list.txt || vt_fail "list failed"
[ "$(grep -c '^vm 1:x ' list.txt)" = 2 ] || { cat list.txt; vt_fail "list: not 2 runs of '$dom'"; }
grep -q '^vm 1:x .*20261201T110000Z  *complete  *1m05s ' list.txt || { cat list.txt; vt_fail "list: state/duration"; }
grep -q '^vm2 .* recording ' list.txt || { cat list.txt; vt_fail "list: vm2 recording"; }
"$V" list vm2 | grep -q '^vm2 ' || vt_fail "list vm2"
"$V" list nosuch >/dev/null 2>err.txt && vt_fail "list of an unknown domain succeeded"
[ "$(wc -l <err.txt)" = 1 ] && grep -q '^virt-trace: ' err.txt || vt_fail "list nosuch: $(cat err.txt)"

"$V" show "$dom" >show.txt || vt_fail "show failed"
for want in '^state: *complete' '^sync: *tracepoint, largest error 0 ticks' '^  vCPU 1 ' \
	'^  - a warning for show' '^run: *vm 1:x/20261201T110000Z' 'duration 1m05s'; do
	grep -q "$want" show.txt || { cat show.txt; vt_fail "show: no line /$want/"; }
done
"$V" show "$dom" 20261201T100000Z | grep -q '^run: .*20261201T100000Z' || vt_fail "show RUN"
dir=$("$V" path "$dom") || vt_fail "path failed"
[ "$dir" = "$VT_STATE_DIR/$esc/20261201T110000Z" ] || vt_fail "path: $dir"
"$V" show "$dir" | grep -q '^state: *complete' || vt_fail "show DIR"
"$V" path "$dom" 20990101T000000Z >/dev/null 2>err.txt && vt_fail "path of a missing run succeeded"
grep -q "^virt-trace: domain vm 1:x: no run 20990101T000000Z$" err.txt || vt_fail "path error: $(cat err.txt)"
"$V" path >/dev/null 2>&1; [ $? = 2 ] || vt_fail "path without DOMAIN: not exit 2"

"$V" report "$dom" >r1.txt || vt_fail "report DOMAIN failed"
"$V" report "$dir" >r2.txt || vt_fail "report DIR failed"
"$V" report "$dom" 20261201T110000Z --events kvm_write_tsc_offset >r3.txt || vt_fail "report RUN failed"
cmp -s r1.txt r2.txt || vt_fail "report DOMAIN and report DIR differ"
[ -s r1.txt ] && [ "$(wc -l <r3.txt)" -ge 2 ] || vt_fail "report printed too little"
"$V" verify "$dom" >v.txt || { cat v.txt; vt_fail "verify DOMAIN failed"; }
"$V" verify "$dir" >/dev/null || vt_fail "verify DIR failed"
"$V" report ./nosuch/dir >/dev/null 2>err.txt && vt_fail "report of a missing directory succeeded"

"$V" export "$dom" -o out.tar.zst || vt_fail "export failed"
tar --zstd -tf out.tar.zst >members.txt || vt_fail "not a zstd tar"
for m in host.dat guest.dat manifest.json; do
	grep -qx "$esc-20261201T110000Z/$m" members.txt || { cat members.txt; vt_fail "archive lacks $m"; }
done
mkdir x && tar --zstd -xf out.tar.zst -C x && cmp -s "x/$esc-20261201T110000Z/guest.dat" "$dir/guest.dat" ||
	vt_fail "guest.dat differs after export"
"$V" export vm2 -o vm2.tar.zst 2>err.txt && vt_fail "export of a recording run succeeded"
[ -e vm2.tar.zst ] && vt_fail "a refused export left a file"
ls out.tar.zst.* >/dev/null 2>&1 && vt_fail "export left a temporary file"
"$V" export "$dom" >/dev/null 2>&1; [ $? = 2 ] || vt_fail "export without -o: not exit 2"

"$V" status >status.txt || vt_fail "status failed"
grep -q '^vm2 .* interrupted ' status.txt || { cat status.txt; vt_fail "status: vm2 not interrupted"; }
"$V" stop vm2 >/dev/null 2>err.txt && vt_fail "stop without a recorder succeeded"
grep -q "recover" err.txt || vt_fail "stop: $(cat err.txt)"
"$V" start vm2 >/dev/null 2>err.txt && vt_fail "start of a domain that does not run succeeded"
grep -q '^virt-trace: domain vm2 is not running' err.txt || vt_fail "start: $(cat err.txt)"
for verb in list show path report verify export start stop status recover; do
	"$V" "$verb" --help | grep -q "^Usage: virt-trace $verb" || vt_fail "$verb --help"
done
vt_log "list, show, path, report, verify, export, status, stop, start checked"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
