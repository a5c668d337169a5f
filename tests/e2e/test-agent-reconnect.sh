#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The collector over a libvirtd restart, with real libvirtd, QEMU (TCG), qemu-ga and
# virt-trace-agent: the demo guest runs, the collector has pushed and started the agent
# and pulled chunks; libvirtd is restarted (the hook's 'reconnect'). The collector must
# reopen its libvirt connection (spool/guest.json libvirt_reconnects >= 1) and go on:
# a program the guest runs after the restart (exec of /tmp/vt-mark-after-restart, a
# sched:sched_process_exec event) stands in the archive's guest.dat, with guest events
# after it, and `virt-trace shutdown` flushes the guest through the new connection. The
# run is complete and its manifest says guest_agent.libvirt_reconnects >= 1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 150 "$@"
. "$(dirname "$0")/libvirt.sh"
. "$(dirname "$0")/faults.sh"

VT_AGENT=/usr/lib/virt-trace/virt-trace-agent
MARK=/tmp/vt-mark-after-restart

vt_need_libvirt_tcg
vt_need_cmd pgrep libvirtd virtlogd cpio gzip
[ -r /run/libvirtd.pid ] || vt_skip "libvirtd does not run from /run/libvirtd.pid (systemd socket activation?): not restarted here"
[ -x "$VT_AGENT" ] || vt_skip "guest agent not installed at $VT_AGENT (agent/guest not built yet?)"
vt_workdir agent-reconnect
dom=vt-e2e-$$-arc
trap 'vt_libvirtd_up; vt_domains_cleanup' EXIT
trap 'exit 124' TERM INT

# 1. The demo image (cached) and a domain that also traces exec in the guest.
vt_demo_image
vt_demo_domain "$dom" \
	-e 's|<vt:guest events="sched:sched_switch"/>|<vt:guest events="sched:sched_switch,sched:sched_process_exec"/>|'
grep -q sched_process_exec "$dom.xml" || vt_fail "examples/demo-domain.xml: no <vt:guest events=\"sched:sched_switch\"/> to extend"
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: the hook started no recording"
dir=$("$VT_CLI" path "$dom") || vt_fail "virt-trace path $dom failed"
run=$(basename "$dir")

# guest_figure KEY: the collector's figure in spool/guest.json (-1 when not there yet)
guest_figure()
{
	python3 -c 'import json,sys
try: print(int(json.load(open(sys.argv[1])).get(sys.argv[2], -1)))
except Exception: print(-1)' "$dir/spool/guest.json" "$1"
}

# 2. The collector pushed and started the agent and pulled a chunk (TCG boots slowly).
for _ in $(seq 900); do
	[ "$(guest_figure chunks)" -ge 1 ] && break
	[ "$(virsh_ domstate "$dom" 2>/dev/null)" = running ] || { tail -20 "$console"; vt_fail "$dom stopped while booting"; }
	sleep 0.1
done
[ "$(guest_figure chunks)" -ge 1 ] || {
	cat "$dir/spool/guest.json" 2>/dev/null
	tail -20 "$console"
	vt_fail "$dom: the collector pulled no chunk within 90 s"
}
chunks0=$(guest_figure chunks)
vt_log "$dom: the collector pulls chunks ($chunks0 so far, $(guest_figure checked_events) events)"

# 3. libvirtd restarted under the collector: it reopens its connection and goes on.
vt_libvirtd_restart
[ "$(virsh_ domstate "$dom")" = running ] || vt_fail "$dom is not running after the restart"
for _ in $(seq 400); do
	[ "$(guest_figure libvirt_reconnects)" -ge 1 ] && break
	sleep 0.1
done
[ "$(guest_figure libvirt_reconnects)" -ge 1 ] ||
	{ cat "$dir/spool/guest.json"; vt_fail "$dom: the collector did not reconnect within 40 s"; }
vt_log "$dom: the collector reconnected ($(guest_figure libvirt_reconnects) reconnects)"

# 4. A mark in the guest after the restart (libvirtd reaches qemu-ga again first).
cmd='{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","ln -sf /bin/busybox '$MARK' && '$MARK' true; rm -f '$MARK'"]}}'
marked=0
for _ in $(seq 40); do
	virsh_ qemu-agent-command "$dom" "$cmd" --timeout 10 >mark.out 2>&1 && { marked=1; break; }
	sleep 0.5
done
[ $marked = 1 ] || vt_fail "$dom: qemu-ga does not run the mark after the restart: $(cat mark.out)"
chunks1=$(guest_figure chunks)
for _ in $(seq 100); do
	[ "$(guest_figure chunks)" -gt "$chunks1" ] && break
	sleep 0.1
done
[ "$(guest_figure chunks)" -gt "$chunks1" ] ||
	{ cat "$dir/spool/guest.json"; vt_fail "$dom: no chunk pulled within 10 s after the restart"; }
vt_log "$dom: chunks after the restart: $chunks1 -> $(guest_figure chunks)"

# 5. virt-trace shutdown: the guest flushed through the new connection, then shut down.
timeout 45 "$VT_CLI" shutdown "$dom" >shutdown.log 2>&1 || { cat shutdown.log; vt_fail "virt-trace shutdown $dom failed"; }
for _ in $(seq 300); do
	[ "$(virsh_ domstate "$dom" 2>/dev/null)" = "shut off" ] && break
	sleep 0.1
done
[ "$(virsh_ domstate "$dom" 2>/dev/null)" = "shut off" ] || vt_fail "$dom still runs 30 s after virt-trace shutdown"
st=$(vt_wait_final "$dom" 30) || vt_fail "$dom/$run: not final after the shutdown ($st)"
[ "$st" = complete ] || { "$VT_CLI" show "$dom"; vt_fail "$dom/$run: run is $st, want complete"; }
cp "$dir/manifest.json" manifest.json

# 6. The archive: the reconnect counted, the guest flushed, the mark and events after it.
[ -s "$dir/guest.dat" ] || { "$VT_CLI" show "$dom"; vt_fail "$dom: no guest.dat in $dir"; }
trace-cmd report --raw-ts -i "$dir/guest.dat" >guest.txt 2>guest.err ||
	{ head -5 guest.err; vt_fail "trace-cmd report cannot read guest.dat"; }
python3 - manifest.json guest.txt "$MARK" <<'PY' >checks.txt 2>&1
import json, re, sys
m = json.load(open(sys.argv[1]))
g = m.get("guest_agent", {})
fails = []
print("guest_agent: libvirt_reconnects %s, chunks %s, flushed %s, collect_failures %s, errors %s"
      % (g.get("libvirt_reconnects"), g.get("chunks"), g.get("flushed"),
         g.get("collect_failures"), g.get("errors")))
if not isinstance(g.get("libvirt_reconnects"), int) or g["libvirt_reconnects"] < 1:
    fails.append("manifest guest_agent.libvirt_reconnects is %r, want >= 1" % g.get("libvirt_reconnects"))
if g.get("flushed") is not True:
    fails.append("the guest was not flushed at the shutdown (guest_agent.flushed)")
ts = re.compile(r"\]\s*(\d+):\s+(\S+):")
events, mark = [], None
for line in open(sys.argv[2]):
    t = ts.search(line)
    if not t:
        continue
    events.append(int(t.group(1)))
    if mark is None and t.group(2) == "sched_process_exec" and sys.argv[3] in line:
        mark = int(t.group(1))
after = sum(1 for t in events if mark is not None and t > mark)
print("guest.dat: %d events, the mark at %s, %d events after it" % (len(events), mark, after))
if mark is None:
    fails.append("guest.dat has no sched_process_exec of %s (run after the restart)" % sys.argv[3])
elif after < 10:
    fails.append("guest.dat has %d events after the mark, want >= 10" % after)
for f in fails:
    print("FAIL: " + f)
sys.exit(1 if fails else 0)
PY
rc=$?
cat checks.txt
[ $rc = 0 ] || { "$VT_CLI" show "$dom"; vt_fail "$(grep '^FAIL: ' checks.txt | sed 's/^FAIL: //' | head -1)"; }
vt_check_clean "$dom" 10
echo "PASS: $(basename "$0") ($(vt_elapsed))"
