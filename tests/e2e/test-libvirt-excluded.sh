#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real libvirtd, installed hook: a domain the config leaves out gets no run and
# no tracefs instance. The hook called by hand with broken XML or an unknown op
# exits 0. The hook runs under libvirtd, so the config is the real
# /etc/virt-trace/virt-trace.conf: written here and restored afterwards.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt
vt_workdir libvirt-excluded
conf=/etc/virt-trace/virt-trace.conf
had_conf=0
[ -e "$conf" ] && cp -p "$conf" saved.conf && had_conf=1
bad=vt-e2e-$$-bad

restore()
{
	if [ $had_conf = 1 ]; then
		cp -p saved.conf "$conf"
	else
		rm -f "$conf"
	fi
	VT_DOMAINS+=("$bad")
	vt_domains_cleanup
}
trap restore EXIT
trap 'exit 124' TERM INT

mkdir -p /etc/virt-trace
echo '{ "domains": ["only-this-*"] }' >"$conf"
dom=vt-e2e-$$-x
vt_domain_define "$dom" 1
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
sleep 2
[ -d "$VT_TRACEFS/instances/virt-trace-$dom" ] && vt_fail "an instance was created for excluded $dom"
[ -e "$VT_STORE/$dom" ] && vt_fail "a run was created for excluded $dom: $(ls "$VT_STORE/$dom")"
virsh_ destroy "$dom" >/dev/null || vt_fail "virsh destroy $dom failed"
sleep 1
[ -e "$VT_STORE/$dom" ] && vt_fail "a run was created for excluded $dom at stop"
"$VT_CLI" list "$dom" >/dev/null 2>&1 && vt_fail "virt-trace list shows runs of excluded $dom"
vt_log "excluded $dom: no run, no instance"

# by hand, with the default config: broken XML for every op, then unknown ops
if [ $had_conf = 1 ]; then cp -p saved.conf "$conf"; else rm -f "$conf"; fi
for op in "prepare begin" "start begin" "started begin" "stopped end" "release end" \
	"reconnect begin"; do
	# shellcheck disable=SC2086
	timeout 10 "$VT_HOOK" "$bad" $op - <<<"<domain type='kvm'><name>$bad</name><uuid" \
		>hook.out 2>hook.err
	rc=$?
	[ $rc = 0 ] || vt_fail "hook $bad $op with broken XML: exit $rc ($(cat hook.err))"
done
# one log line for the broken XML (syslog; VT_HOOK_STDERR=1 copies it to stderr)
VT_HOOK_STDERR=1 timeout 10 "$VT_HOOK" "$bad" start begin - <<<"<domain><name" >/dev/null 2>hook.err
[ "$(wc -l <hook.err)" = 1 ] && grep -q "$bad" hook.err ||
	vt_fail "broken XML: want one log line naming $bad, got: $(cat hook.err)"
[ -d "$VT_TRACEFS/instances/virt-trace-$bad" ] && vt_fail "broken XML at start created an instance"
for op in "frobnicate begin" "migrate begin" "restore begin" "attach begin"; do
	# shellcheck disable=SC2086
	timeout 10 "$VT_HOOK" "$bad" $op - </dev/null >hook.out 2>hook.err
	rc=$?
	[ $rc = 0 ] || vt_fail "hook $bad $op: exit $rc ($(cat hook.err))"
	[ -s hook.out ] && vt_fail "hook $bad $op printed on stdout (taken as new XML): $(head -c 200 hook.out)"
done
timeout 10 "$VT_HOOK" </dev/null >/dev/null 2>&1
rc=$?
[ $rc = 0 ] || vt_fail "hook without arguments: exit $rc"
# whatever the broken calls started has ended after 'release end'
vt_wait_final "$bad" 20 >/dev/null 2>&1
sleep 0.5
[ -d "$VT_TRACEFS/instances/virt-trace-$bad" ] && vt_fail "instance of $bad left after release"
vt_log "hook: broken XML and unknown ops exit 0"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
