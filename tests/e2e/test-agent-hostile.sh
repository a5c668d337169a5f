#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A hostile guest agent through the real qemu-ga path: real libvirtd, QEMU (TCG)
# and the demo guest, whose agent is tests/e2e/fake-agent.sh (the collector
# pushes it through qemu-ga, named by the config's agent_binary; the real
# agent rides behind it). Its even-numbered collects answer with too much
# output, a truncated chunk, a garbage chunk, a reply that is not JSON, a 9 MiB
# chunk, no answer at all, another boot's chunk and a replayed chunk; the odd
# ones are valid; the agent's stop at shutdown never answers; its info carries
# a sched_switch format that crashes libtraceevent (and so trace-cmd). Then: the run
# is complete within a bounded time of the shutdown (the flush cut at its
# limit); the manifest counts each bad chunk with its reason, and the
# recorder's log and the manifest's errors name them; guest.dat holds exactly
# the events of the valid chunks, on the host axis inside the run; trace-cmd
# reads host.dat and both files, guest.dat's sched_switch without that print
# format; the spool stayed under its quota; qemu-ga still
# answers after the agent that never answered, and no recorder is left.
# The config file is the real /etc/virt-trace/virt-trace.conf (the recorder runs
# under libvirtd): written here and restored afterwards.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 200 "$@"
. "$(dirname "$0")/libvirt.sh"

VT_AGENT=/usr/lib/virt-trace/virt-trace-agent
FAKE=$VT_SOURCE_DIR/tests/e2e/fake-agent.sh
FAKE_SIZE=8192 # fake-agent.sh's FAKE_SIZE: where the real agent starts
QUOTA_MB=64
BAD_KINDS="reply_too_big truncated bad_header bad_reply too_big timeout wrong_boot replayed"

vt_need_libvirt_tcg
[ -x "$VT_AGENT" ] || vt_skip "guest agent not installed at $VT_AGENT"
vt_need_cmd cpio gzip python3
vt_workdir agent-hostile
dom=vt-e2e-$$-hostile
conf=/etc/virt-trace/virt-trace.conf
had_conf=0
[ -e "$conf" ] && cp -p "$conf" saved.conf && had_conf=1
logger_pid=""
watch_pid=""
dir=""

cleanup()
{
	[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
	if [ $had_conf = 1 ]; then cp -p saved.conf "$conf"; else rm -f "$conf"; fi
	[ -n "${dir:-}" ] && cp "$dir/manifest.json" "$dir/spool/guest.json" . 2>/dev/null
	vt_domains_cleanup
	if [ -n "$logger_pid" ]; then
		kill "$logger_pid" 2>/dev/null
		wait "$logger_pid" 2>/dev/null
		rm -f /dev/log
	fi
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# 1. The image, and the hostile agent: the script padded, the real agent behind.
vt_demo_image
grep -q "^FAKE_SIZE=$FAKE_SIZE\$" "$FAKE" || vt_fail "$FAKE does not say FAKE_SIZE=$FAKE_SIZE"
size=$(stat -c %s "$FAKE")
[ "$size" -lt $FAKE_SIZE ] || vt_fail "$FAKE is $size bytes, more than its FAKE_SIZE $FAKE_SIZE"
{ cat "$FAKE"; head -c $((FAKE_SIZE - size)) /dev/zero | tr '\0' '#'; cat "$VT_AGENT"; } >hostile-agent
chmod 0755 hostile-agent

# 2. The recorder's log: a /dev/log of our own when the machine has none.
if [ ! -e /dev/log ]; then
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
print("ready", flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0") + b"\n")
' syslog.txt >logger.out 2>&1 &
	logger_pid=$!
	for _ in $(seq 50); do grep -q ready logger.out 2>/dev/null && break; sleep 0.1; done
	grep -q ready logger.out || vt_fail "cannot listen on /dev/log: $(cat logger.out)"
fi

# 3. The config: the hostile agent, a fast poll, a small quota.
mkdir -p /etc/virt-trace
cat >"$conf" <<EOF
{ "agent_binary": "$VT_WORK/hostile-agent", "poll_interval_ms": 1000, "spool_quota_mb": $QUOTA_MB }
EOF

# 4. The domain: the demo's, under this test's name.
vt_demo_domain "$dom"
virsh_ start "$dom" >/dev/null || vt_fail "virsh start $dom failed"
vt_wait_recording "$dom" 20 || vt_fail "$dom: no run is recording 20 s after the start"
dir=$("$VT_CLI" path "$dom") || vt_fail "virt-trace path $dom failed"
vt_log "$dom started, recording in $dir"

# the spool's size, every 0.2 s, until it is removed
(
	max=0
	while [ -d "$dir/spool" ]; do
		n=$(du -sb "$dir/spool" 2>/dev/null | cut -f1)
		[ -n "$n" ] && [ "$n" -gt "$max" ] && { max=$n; echo "$max" >spool.max; }
		sleep 0.2
	done
) &
watch_pid=$!

ping_agent() { timeout 10 virsh -q -c qemu:///system qemu-agent-command "$dom" '{"execute":"guest-ping"}' --timeout 5 >/dev/null 2>&1; }

# 5. Every bad kind once, and the valid collects between them.
# guest.json: the collector's figures, rewritten after every collect
figure()
{
	python3 - "$dir/spool/guest.json" "$1" <<'EOF' 2>/dev/null || echo 0
import json, sys
g = json.load(open(sys.argv[1]))
v = g.get(sys.argv[2], 0)
print(v if isinstance(v, int) else 0)
EOF
}
t_bad=
end=$((SECONDS + 130))
while [ $SECONDS -lt $end ]; do
	[ "$(virsh_ domstate "$dom" 2>/dev/null)" = running ] || { tail -20 "$console"; vt_fail "$dom stopped"; }
	dropped=$(figure dropped_chunks)
	chunks=$(figure chunks)
	[ "$dropped" -ge 8 ] && [ "$chunks" -ge 9 ] && { t_bad=$(vt_elapsed); break; }
	sleep 0.5
done
[ -n "$t_bad" ] || {
	cat "$dir/spool/guest.json" 2>/dev/null
	vt_fail "$dom: the collector took no 8 bad and 9 good chunks (dropped ${dropped:-?}, chunks ${chunks:-?})"
}
vt_log "8 bad collects dropped, $chunks chunks taken"
ping_agent || vt_fail "$dom: qemu-ga does not answer after the hostile collects"
vt_log "qemu-ga still answers"

# 6. Shut down (the guest flushed first); the run final within a bound.
t0=$(date +%s%N)
timeout 60 "$VT_CLI" shutdown "$dom" >shutdown.out 2>&1 || vt_fail "virt-trace shutdown $dom: $(cat shutdown.out)"
for _ in $(seq 600); do
	[ "$(virsh_ domstate "$dom" 2>/dev/null)" = "shut off" ] && break
	sleep 0.1
done
state=$(vt_wait_final "$dom" 60) || vt_fail "$dom: run not final 60 s after the shutdown (state $state)"
final_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
vt_log "shutdown to a final run: $final_ms ms (the agent's stop never answered)"
# the flush has COLL_FLUSH_MS (20 s); the guest's poweroff and finalize follow
[ $final_ms -lt 45000 ] || vt_fail "$dom: $final_ms ms from the shutdown to a final run (want < 45 s)"
[ "$state" = complete ] || { "$VT_CLI" show "$dom"; vt_fail "$dom: run is $state, want complete"; }
"$VT_CLI" status 2>/dev/null | awk '{print $1}' | grep -qxF "$dom" && vt_fail "$dom: a recorder is still listed"
pgrep -f "virt-trace record.*$dom" >/dev/null && vt_fail "$dom: a recorder process is left"
cp "$dir/manifest.json" manifest.json
{ [ -s "$dir/host.dat" ] && [ -s "$dir/guest.dat" ]; } || vt_fail "$dom: host.dat or guest.dat missing in $dir"

# 7. trace-cmd reads host.dat, guest.dat and both; the hostile print format
# stayed out of guest.dat (sched_switch kept its fields).
trace-cmd dump --events -i "$dir/guest.dat" >guest-formats.txt 2>&1 ||
	vt_fail "trace-cmd dump --events cannot read guest.dat: $(head -3 guest-formats.txt)"
grep -q 'name: sched_switch' guest-formats.txt || vt_fail "guest.dat has no sched_switch format"
grep -q 'field:pid_t prev_pid' guest-formats.txt || vt_fail "guest.dat's sched_switch lost its fields"
awk '/name: /{on = /name: sched_switch$/} on && /print fmt/' guest-formats.txt | grep -q . &&
	vt_fail "guest.dat's sched_switch has a print format: $(grep -o 'REC->prev_pid[^,]*' guest-formats.txt | head -1)"
vt_log "guest.dat: sched_switch's hostile print format left out, its fields kept"
trace-cmd report --raw-ts -i "$dir/host.dat" >host.txt 2>host.err ||
	{ head -5 host.err; vt_fail "trace-cmd report cannot read host.dat"; }
trace-cmd report --raw-ts -i "$dir/guest.dat" >guest.txt 2>guest.err ||
	{ head -5 guest.err; vt_fail "trace-cmd report cannot read guest.dat"; }
trace-cmd report --raw-ts -i "$dir/host.dat" -i "$dir/guest.dat" >both.txt 2>both.err ||
	{ head -5 both.err; vt_fail "trace-cmd report -i host.dat -i guest.dat failed"; }

# 8. The manifest, guest.dat and the spool, checked.
python3 - "$dir" guest.txt host.txt "$BAD_KINDS" "$((QUOTA_MB << 20))" "$(cat spool.max 2>/dev/null || echo 0)" \
	<<'EOF' >checks.txt 2>&1
import json, re, sys
run, guest_f, host_f, kinds, quota, spool_max = sys.argv[1:]
kinds, quota, spool_max = kinds.split(), int(quota), int(spool_max)
man = json.load(open(run + '/manifest.json'))
EV = re.compile(r'\[(\d{3,})\]\s*(\d+):\s+([A-Za-z0-9_]+):')
def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)
def ts(path):
    return [int(m.group(2)) for m in map(EV.search, open(path, errors='replace')) if m]
if man.get('state') != 'complete':
    fail('state %r' % man.get('state'))
ga = man.get('guest_agent') or fail('no guest_agent in the manifest')
bad = ga.get('bad_chunks') or {}
want = {k: 1 for k in kinds}
# a collect; and the stop at shutdown, unless the flush's deadline ended it first
# (then not sent: -ECANCELED, not counted)
if bad.get('timeout') in (1, 2):
    want['timeout'] = bad['timeout']
if bad != want:
    fail('guest_agent.bad_chunks %s, want %s' % (json.dumps(bad, sort_keys=True), json.dumps(want, sort_keys=True)))
if ga.get('dropped_chunks') != sum(want.values()):
    fail('guest_agent.dropped_chunks %r, want %d' % (ga.get('dropped_chunks'), sum(want.values())))
print('ok: manifest: %d bad chunks by reason: %s' % (sum(want.values()), json.dumps(bad, sort_keys=True)))
if ga.get('flushed') is not False or not ga.get('uncovered_ticks'):
    fail('the stop that never answered: flushed %r, uncovered_ticks %r' % (ga.get('flushed'), ga.get('uncovered_ticks')))
if not any('after the last collect are lost' in w for w in man.get('warnings', [])):
    fail('no warning about the guest events after the last collect: %s' % man.get('warnings'))
print('ok: manifest: not flushed, %d ticks uncovered, said in a warning' % ga['uncovered_ticks'])
errs = ' | '.join(ga.get('errors', []))
missing = [k for k in kinds if 'chunk dropped (%s)' % k not in errs]
if missing:
    fail('guest_agent.errors name no drop for %s: %s' % (missing, errs))
print('ok: manifest: guest_agent.errors names each drop')
if not any('chunks dropped' in w for w in man.get('warnings', [])):
    fail('no warning about the dropped chunks: %s' % man.get('warnings'))
guest, host = ts(guest_f), ts(host_f)
if not guest or not host:
    fail('%d guest and %d host events' % (len(guest), len(host)))
if len(guest) != ga.get('checked_events'):
    fail('guest.dat has %d events, the valid chunks had %r' % (len(guest), ga.get('checked_events')))
print('ok: guest.dat: %d events = the events of the %d valid chunks' % (len(guest), ga.get('chunks')))
lo, hi = min(host), max(host)
err = max([0] + [g.get('probe', {}).get('error_ticks', 0) for g in man.get('guests', [])])
out = [t for t in guest if t < lo - err or t > hi + err]
if out:
    fail('%d guest events outside the run [%d, %d] +- %d' % (len(out), lo, hi, err))
print('ok: every guest event on the host axis inside the run [%d, %d]' % (lo, hi))
rec = man.get('recorder', {})
if rec.get('spool_bytes', quota + 1) > quota or spool_max > quota:
    fail('spool: %r bytes counted, %d seen, quota %d' % (rec.get('spool_bytes'), spool_max, quota))
print('ok: spool within its quota: at most %d bytes seen, %d counted (%d of them guest), quota %d'
      % (spool_max, rec.get('spool_bytes'), rec.get('spool_guest_bytes', 0), quota))
EOF
rc=$?
cat checks.txt
[ $rc = 0 ] || vt_fail "$(grep '^FAIL: ' checks.txt | sed 's/^FAIL: //' | tail -1)"

# 9. The recorder's log names each drop (when /dev/log was ours to read).
if [ -n "$logger_pid" ]; then
	for k in $BAD_KINDS; do
		grep -q "domain $dom: guest agent: chunk dropped ($k)" syslog.txt ||
			vt_fail "the recorder's log has no 'chunk dropped ($k)' line"
	done
	grep "chunk dropped (timeout)" syslog.txt | sed 's/^<[0-9]*>//' | head -1
	vt_log "the recorder's log names each drop"
fi
echo "PASS: $(basename "$0") ($(vt_elapsed); bad collects done at $t_bad; shutdown to complete $final_ms ms)"
