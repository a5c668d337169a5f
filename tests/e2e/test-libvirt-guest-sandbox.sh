#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest step of finalize runs sandboxed, and its failures cannot spoil the host
# half. A real TCG guest (the demo image, qemu-ga; the collector pushes the agent in)
# records until the collector has spooled guest pages; the recorder is then killed
# with SIGKILL and the domain destroyed, and the spool is kept aside. Each case puts
# a fresh copy of it back and runs `virt-trace recover` (the same rec_finalize as the
# recorder's), with the guest step made to misbehave (VT_TEST_GUEST_STEP) after its
# sandbox is in force:
#   normal  guest.dat made; manifest guest_sandbox: no_new_privs, capabilities 0x0,
#           landlock_abi > 0 (or the mount namespace), result ok
#   write   the step tries to create a file outside the run directory: denied
#           (EACCES), nothing created, the run still converts
#   crash   SIGSEGV: host.dat whole and readable by trace-cmd, no guest file,
#           state incomplete with the reason, guest_sandbox.result says so
#   lie     reports ../host.dat as a guest file of its own: refused, the same
#   hang    killed at its deadline (VT_GUEST_STEP_TIMEOUT_MS=3000): the same
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 240 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt_tcg
[ -x /usr/lib/virt-trace/virt-trace-agent ] || vt_skip "guest agent not installed"
vt_workdir libvirt-guest-sandbox
dom=vt-e2e-$$-sb
trap vt_domains_cleanup EXIT
trap 'exit 124' TERM INT

vt_demo_image

# 1. A run with guest pages in its spool, its recorder killed.
# host events of QEMU's threads in a small buffer (its readers wake at half full),
# so that the host half has pages in the spool
vt_demo_domain "$dom" \
	-e 's|<vt:guest |<vt:host events="sched:sched_switch,sched:sched_wakeup" buffer-kb="64"/><vt:guest |'
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 10 || vt_fail "$dom: the hook started no recording"
run=$("$VT_CLI" path "$dom") || vt_fail "virt-trace path $dom failed"
id=${run##*/}
for _ in $(seq 900); do
	[ -s "$run/spool/guest-boot1/info.json" ] &&
		[ "$(cat "$run"/spool/guest-boot1/cpu*.raw 2>/dev/null | wc -c)" -gt 8192 ] &&
		[ "$(cat "$run"/spool/main/cpu*.raw 2>/dev/null | wc -c)" -gt 0 ] && break
	[ "$(virsh_ domstate "$dom" 2>/dev/null)" = running ] || vt_fail "$dom stopped while booting"
	sleep 0.2
done
[ -s "$run/spool/guest-boot1/info.json" ] || { tail -5 "$console"; vt_fail "$dom: no guest pages spooled in 180 s"; }
vt_log "guest pages in the spool"
sleep 3
rec=$(pgrep -f "virt-trace record --domain $dom( |\$)")
[ -n "$rec" ] && [ "$(wc -w <<<"$rec")" = 1 ] || vt_fail "$dom: cannot tell its recorder (pids: $rec)"
kill -KILL "$rec"
for _ in $(seq 50); do kill -0 "$rec" 2>/dev/null || break; sleep 0.1; done
# the spool as the dead recorder left it (the hook's next call recovers the run)
cp -a "$run" pristine
virsh_ destroy "$dom" >/dev/null 2>&1
vt_wait_final "$dom" 60 >/dev/null || vt_fail "$dom: not finalized after destroy"
rm -rf "$run"
[ -d pristine/spool/guest-boot1 ] || vt_fail "no guest spool in the copy"
vt_log "guest pages of $dom spooled ($(cat pristine/spool/guest-boot1/cpu*.raw | wc -c) bytes); recorder killed"

outside=$VT_STORE/$dom/escaped-$$
# case NAME ENV...: a fresh copy of the run, recovered with ENV; manifest copied to NAME.json
case_run()
{
	local name=$1
	shift
	rm -rf "$run"
	cp -a pristine "$run"
	env "$@" timeout 60 "$VT_CLI" recover "$dom" >"$name.out" 2>&1 ||
		{ cat "$name.out"; vt_fail "$name: virt-trace recover failed"; }
	cp "$run/manifest.json" "$name.json"
	trace-cmd report --raw-ts -i "$run/host.dat" >"$name.host.txt" 2>"$name.host.err" ||
		vt_fail "$name: trace-cmd cannot read host.dat: $(head -2 "$name.host.err")"
	events=$(vt_count_events "$name.host.txt")
	# the host half is the same whatever the guest step did
	[ "$name" = normal ] && host_events=$events
	[ "$events" = "$host_events" ] ||
		vt_fail "$name: host.dat has $events events, the normal case $host_events"
	ls "$run" >"$name.ls"
}

check()
{
	python3 - "$@" <<'PY'
import json, sys
name, want = sys.argv[1], sys.argv[2]
m = json.load(open(name + ".json"))
sb = m.get("guest_sandbox")
def fail(msg):
    print("FAIL: %s: %s" % (name, msg)); sys.exit(1)
if not sb:
    fail("no guest_sandbox in the manifest")
if sb.get("no_new_privs") is not True or sb.get("capabilities") != "0x0":
    fail("not sandboxed: %s" % sb)
if sb.get("bounding_set") != "0x0" or sb.get("writes_confined") is not True:
    fail("bounding set or writes not confined: %s" % sb)
if not (sb.get("landlock_abi", 0) > 0 or sb.get("mount_namespace")):
    fail("neither Landlock nor the mount namespace: %s" % sb)
if sb.get("rlimits", {}).get("core") != 0:
    fail("core dumps allowed: %s" % sb)
warn = m.get("warnings", [])
files = [g["file"] for g in m.get("guests", [])]
if want == "ok":
    if sb.get("result") != "ok" or files != ["guest.dat"] or "guest.dat" not in m["members"]:
        fail("result %r, guests %r" % (sb.get("result"), files))
else:
    if want not in sb.get("result", ""):
        fail("result %r lacks %r" % (sb.get("result"), want))
    if files or any(k.startswith("guest") and k.endswith(".dat") for k in m["members"]):
        fail("guest files kept after a failed step: %r" % m["members"])
    if m["state"] != "incomplete" or "guest step" not in m.get("state_reason", ""):
        fail("state %s (%s)" % (m["state"], m.get("state_reason")))
    if not any("guest half left out" in w for w in warn):
        fail("no warning names the failure: %r" % warn)
if "host.dat" not in m["members"] or "events" not in m.get("host", {}):
    fail("host half missing: %r" % m.get("host"))
print("%s: result %s, landlock ABI %s, rlimits %s" % (name, sb["result"], sb.get("landlock_abi"),
      sb["rlimits"]))
PY
}

case_run normal
check normal ok || exit 1
[ -s "$run/guest.dat" ] || vt_fail "normal: no guest.dat"
[ "$host_events" -gt 0 ] || vt_fail "normal: host.dat holds no events"
vt_log "normal: $host_events host events, guest.dat $(stat -c %s "$run/guest.dat") bytes"

case_run write VT_TEST_GUEST_STEP="write:$outside"
[ -e "$outside" ] && vt_fail "write: the guest step created $outside outside its run directory"
grep -q "test: guest step writing $outside: Permission denied" write.json ||
	vt_fail "write: the attempt did not fail with EACCES: $(grep 'test: guest' write.json)"
check write ok || exit 1

case_run crash VT_TEST_GUEST_STEP=crash
check crash "killed by signal 11" || exit 1
grep -q guest crash.ls && vt_fail "crash: guest files left in the run directory: $(cat crash.ls)"

case_run lie VT_TEST_GUEST_STEP=lie
check lie "do not hold together" || exit 1
grep -q guest lie.ls && vt_fail "lie: guest files left in the run directory: $(cat lie.ls)"

t0=$(date +%s%N)
case_run hang VT_TEST_GUEST_STEP=hang VT_GUEST_STEP_TIMEOUT_MS=3000
hang_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check hang "timed out after 3.000 s" || exit 1
pgrep -f "virt-trace recover $dom" >/dev/null && vt_fail "hang: a guest step process outlived recover"
vt_log "hang case: recover returned after $hang_ms ms"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
