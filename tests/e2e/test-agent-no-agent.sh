#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest without a guest agent: the demo guest under TCG, but its domain has no
# org.qemu.guest_agent.0 channel. It boots, is shut down through ACPI (virsh
# shutdown --mode acpi: busybox acpid in the guest powers off), and its run
# must be a complete host-only archive: host.dat, no guest.dat, and (with the
# collector built in) a manifest that says why there is no guest half.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 180 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt_tcg
vt_need_cmd gcc cpio gzip modprobe sed
vt_workdir agent-no-agent
dom=vt-e2e-$$-noagent
trap vt_domains_cleanup EXIT
trap 'exit 124' TERM INT

collector=0
"$VT_CLI" --help 2>&1 | grep -qE '^ +agent-install ' && collector=1

vt_demo_image

# the demo domain without its guest agent channel
vt_demo_domain "$dom" -e "/<channel type='unix'>/,/<\/channel>/d"
grep -q guest_agent "$dom.xml" && vt_fail "could not remove the agent channel from $dom.xml"
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_log "$dom started (TCG, no guest agent channel)"
vt_wait_recording "$dom" 20 || vt_fail "$dom: no run recording 20 s after the start (hook not called?)"

# booted far enough for acpid: the workload hook runs after it starts
booted=0
for _ in $(seq 120); do
	grep -q 'vt-demo: workload started' "$console" 2>/dev/null && { booted=1; break; }
	sleep 0.5
done
[ $booted = 1 ] || { tail -20 "$console"; vt_fail "$dom: guest not booted 60 s after the start"; }
vt_log "$dom booted; guest agent absent; workload runs"
sleep 3
virsh_ shutdown --mode acpi "$dom" >/dev/null || vt_fail "virsh shutdown --mode acpi $dom failed"
off=0
for _ in $(seq 300); do
	[ "$(virsh_ domstate "$dom" 2>/dev/null)" = "shut off" ] && { off=1; break; }
	sleep 0.1
done
[ $off = 1 ] || { tail -20 "$console"; vt_fail "$dom: still running 30 s after an ACPI shutdown"; }
vt_log "$dom powered off through ACPI"

state=$(vt_wait_final "$dom" 60) || vt_fail "$dom: latest run still '$state' 60 s after the shutdown"
[ "$state" = complete ] || { "$VT_CLI" show "$dom"; vt_fail "$dom: run is $state, want complete"; }
dir=$("$VT_CLI" path "$dom") || vt_fail "virt-trace path $dom failed"
[ -s "$dir/host.dat" ] || vt_fail "$dom: no host.dat"
guests=("$dir"/guest*)
[ -e "${guests[0]}" ] && vt_fail "$dom: a guest file without a guest agent: ${guests[*]##*/}"
trace-cmd report --raw-ts -i "$dir/host.dat" >host.txt 2>host.err ||
	{ head -5 host.err; vt_fail "trace-cmd report cannot read host.dat"; }
vt_log "$dom: run complete, host-only ($(vt_count_events host.txt) host events)"

if [ $collector = 1 ]; then
	why=$(python3 - "$dir/manifest.json" <<'EOF'
import json, re, sys
# the reason for a missing guest half, wherever the collector puts it
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if re.search(r'(no_agent|guest_missing|no_guest|agent_missing).*reason', k) and \
                    isinstance(v, str) and v:
                print('%s: %s' % (k, v))
                sys.exit(0)
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(open(sys.argv[1])))
sys.exit(1)
EOF
	) || { cat "$dir/manifest.json"; vt_fail "$dom: the manifest says not why there is no guest half"; }
	vt_log "manifest: $why"
	"$VT_CLI" show "$dom" >show.txt || vt_fail "virt-trace show $dom failed"
else
	vt_log "NOTE: no collector in $VT_CLI (no agent-install verb): the manifest's reason is not checked"
fi
echo "PASS: $(basename "$0") ($(vt_elapsed))"
