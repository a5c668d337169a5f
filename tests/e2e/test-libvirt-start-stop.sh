#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real libvirtd, installed hook: `virt-trace stop` ends the hook's capture of a
# running domain (the domain keeps running), `virt-trace start` captures it
# again (offsets from debugfs), `status` shows it, `stop` finalizes it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt
vt_workdir libvirt-start-stop
dom=vt-e2e-$$-s
trap 'vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

vt_domain_define "$dom" 2
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 10 || vt_fail "$dom: the hook started no recording"
"$VT_CLI" status >status.txt || vt_fail "virt-trace status failed"
grep -q "^$dom .* recording" status.txt || { cat status.txt; vt_fail "status does not show $dom"; }
sleep 1
timeout 60 "$VT_CLI" stop "$dom" >stop1.txt || { cat stop1.txt; vt_fail "virt-trace stop $dom failed"; }
run1=$("$VT_CLI" path "$dom")
[ "$(vt_latest_state "$dom")" = complete ] || vt_fail "after stop: run is $(vt_latest_state "$dom")"
[ "$(virsh_ domstate "$dom")" = running ] || vt_fail "$dom is no longer running after stop"
[ -d "$VT_TRACEFS/instances/virt-trace-$dom" ] && vt_fail "instance left after stop"
vt_log "stopped the hook's capture: $(cat stop1.txt)"

"$VT_CLI" stop "$dom" >/dev/null 2>err.txt && vt_fail "a second stop succeeded"
grep -q "^virt-trace: " err.txt || vt_fail "second stop: no error line"

timeout 30 "$VT_CLI" start "$dom" >start.txt || { cat start.txt; vt_fail "virt-trace start $dom failed"; }
vt_log "$(cat start.txt)"
"$VT_CLI" start "$dom" >/dev/null 2>err.txt && vt_fail "a second start succeeded"
[ "$(vt_latest_state "$dom")" = recording ] || vt_fail "after start: run is $(vt_latest_state "$dom")"
run2=$("$VT_CLI" path "$dom")
[ "$run2" != "$run1" ] || vt_fail "start reused run $run1"
"$VT_CLI" status | grep -q "^$dom .* recording" || vt_fail "status does not show the new capture"
sleep 2
timeout 60 "$VT_CLI" stop "$dom" >stop2.txt || { cat stop2.txt; vt_fail "second virt-trace stop failed"; }
state=$(vt_latest_state "$dom")
[ "$state" = complete ] || { "$VT_CLI" show "$dom"; vt_fail "started capture ended $state"; }
[ "$(virsh_ domstate "$dom")" = running ] || vt_fail "$dom is no longer running"
python3 - "$run2/manifest.json" <<'PY' || vt_fail "offsets of the started capture"
import json, sys
m = json.load(open(sys.argv[1]))
if len((m.get('domain') or {}).get('uuid') or '') != 36:
    sys.exit(f'FAIL: domain {m.get("domain")} has no uuid')
v = m.get('vcpus') or []
if len(v) != 2:
    sys.exit(f'FAIL: {len(v)} vCPUs in the manifest, want 2')
for e in v:
    srcs = {o.get('source') for o in e.get('offsets', [])}
    if 'debugfs' not in srcs:
        sys.exit(f'FAIL: vCPU {e.get("vcpu")}: offset sources {srcs}, want debugfs')
print('started capture: 2 vCPUs with debugfs offsets')
PY
"$VT_CLI" show "$dom" | grep -q '^sync: .*debugfs' || vt_fail "show does not name debugfs"
[ -d "$VT_TRACEFS/instances/virt-trace-$dom" ] && vt_fail "instance left after the second stop"
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy failed"
sleep 1
[ "$("$VT_CLI" path "$dom")" = "$run2" ] || vt_fail "destroy after stop made a new run"
vt_log "start/stop on a running domain: $(cat stop2.txt)"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
