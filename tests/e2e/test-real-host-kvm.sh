#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real host data: two QEMU processes create KVM vCPUs while a tracefs instance
# records kvm:kvm_write_tsc_offset (clock x86-tsc, record-tgid); trace-cmd
# extracts host.dat. Checks that trace-cmd sees the writes of both processes,
# then that `virt-trace merge --host host.dat --pid PID --tgids saved_tgids`
# puts exactly PID's writes, per vCPU thread, into manifest.json.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"

vt_need_root
vt_need_cmd qemu-system-x86_64 trace-cmd python3
[ -c /dev/kvm ] && [ -w /dev/kvm ] || vt_skip "/dev/kvm missing or not writable"
vt_need_tracefs
[ -d $VT_TRACEFS/events/kvm/kvm_write_tsc_offset ] ||
	vt_skip "no kvm:kvm_write_tsc_offset tracepoint (kvm module not loaded?)"

vt_workdir host-kvm
inst=vt-e2e-$$
qemu_pids=()

cleanup()
{
	local p
	for p in "${qemu_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	vt_instance_remove "$inst"
}
trap cleanup EXIT
trap 'exit 124' TERM INT

vt_instance_create "$inst" x86-tsc kvm:kvm_write_tsc_offset
vt_log "instance $inst recording kvm:kvm_write_tsc_offset"

# start_qemu NAME SMP: a paused QEMU (-S) whose vCPUs KVM creates anyway.
start_qemu()
{
	qemu-system-x86_64 -enable-kvm -smp "$2" -m 64 -display none -nodefaults -S \
		-name "guest=$1,debug-threads=on" </dev/null >"qemu-$1.log" 2>&1 &
	qemu_pids+=($!)
}
start_qemu vte2e 2
start_qemu vtnoise 1
pid=${qemu_pids[0]} noise=${qemu_pids[1]}

# wait_vcpus PID N: until PID has N "CPU n/KVM" threads (10 s at most)
wait_vcpus()
{
	local n
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 1
		n=$(cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^CPU [0-9]*/KVM$')
		[ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
for spec in "$pid:2:vte2e" "$noise:1:vtnoise"; do
	IFS=: read -r p n name <<<"$spec"
	if ! wait_vcpus "$p" "$n"; then
		cat "qemu-$name.log"
		if grep -qiE 'kvm.*(not|fail|denied|unavailable)|could not access kvm' "qemu-$name.log"; then
			vt_skip "QEMU cannot use KVM here: $(head -1 "qemu-$name.log")"
		fi
		vt_fail "QEMU $name (pid $p) did not create its $n vCPU threads"
	fi
done
sleep 1 # the machine reset after vCPU creation writes the offsets once more
vt_log "QEMU pids: $pid (2 vCPUs), $noise (noise, 1 vCPU)"

for p in "$pid" "$noise"; do
	for t in /proc/"$p"/task/*; do
		echo "${t##*/} $(cat "$t/comm")"
	done >"threads-$p.txt"
done
cp $VT_TRACEFS/saved_tgids saved_tgids
kill "$pid" "$noise"
wait "$pid" "$noise" 2>/dev/null
qemu_pids=()

echo 0 >$VT_TRACEFS/instances/$inst/tracing_on
trace-cmd extract -B "$inst" -o host.dat >extract.log 2>&1 || {
	cat extract.log
	vt_fail "trace-cmd extract -B $inst failed"
}
vt_instance_remove "$inst"
trace-cmd report -t --raw-ts -i host.dat >host.txt 2>report.err || {
	cat report.err
	vt_fail "trace-cmd report -i host.dat failed"
}
vt_log "host.dat: $(stat -c %s host.dat) bytes, $(vt_count_events host.txt kvm_write_tsc_offset) kvm_write_tsc_offset events"

# Parse `trace-cmd report -t` and compare; a manifest is checked when given.
cat >check.py <<'EOF'
import json, re, sys

report, pid, noise = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
manifest = sys.argv[4] if len(sys.argv) > 4 else None
line_re = re.compile(r'^\s*(?:\S+:\s+)?(?P<comm>.+)-(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s*(?P<ts>\d+):'
                     r' kvm_write_tsc_offset:\s+vcpu=(?P<vcpu>\d+) prev=(?P<prev>\d+) next=(?P<next>\d+)')

def threads(p):
    out = {}
    for line in open(f'threads-{p}.txt'):
        tid, comm = line.rstrip('\n').split(' ', 1)
        m = re.fullmatch(r'CPU (\d+)/KVM', comm)
        if m:
            out[int(tid)] = int(m.group(1))
    return out

def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)

vcpus = {pid: threads(pid), noise: threads(noise)}
writes = {}  # tid -> [(host_tsc, vcpu_id, next)]
for line in open(report):
    m = line_re.match(line)
    if m:
        writes.setdefault(int(m['tid']), []).append((int(m['ts']), int(m['vcpu']), int(m['next'])))
for p, tids in vcpus.items():
    for tid, n in tids.items():
        if not writes.get(tid):
            fail(f'no kvm_write_tsc_offset of pid {p} vCPU {n} (tid {tid}) in trace-cmd report')
    print(f'pid {p}: ' + ', '.join(f'CPU {n}/KVM (tid {t}): {len(writes[t])} writes'
                                    for t, n in sorted(tids.items(), key=lambda x: x[1])))
if manifest is None:
    sys.exit(0)

try:
    m = json.load(open(manifest))
except (OSError, ValueError) as e:
    fail(f'{manifest}: {e}')
entries = m.get('vcpus')
if not isinstance(entries, list):
    fail('manifest has no "vcpus" list')
noise_tids = set(vcpus[noise])
noise_ts = {w[0] for t in noise_tids for w in writes[t]}
by_tid = {}
for e in entries:
    tid = e.get('tid')
    if tid in noise_tids:
        fail(f'manifest lists tid {tid} of the other QEMU (pid {noise})')
    by_tid[tid] = e
    for o in e.get('offsets', []):
        if o.get('host_tsc') in noise_ts:
            fail(f'manifest vCPU {e.get("vcpu")} has a write at {o.get("host_tsc")} of pid {noise}')
if set(by_tid) != set(vcpus[pid]):
    fail(f'manifest vCPU tids {sorted(by_tid, key=str)} != CPU n/KVM threads {sorted(vcpus[pid])}')
for tid, n in vcpus[pid].items():
    e = by_tid[tid]
    want = sorted(writes[tid])
    got = sorted((o['host_tsc'], int(o['offset'], 16)) for o in e.get('offsets', []))
    if e.get('vcpu') != n:
        fail(f'tid {tid}: manifest vcpu {e.get("vcpu")}, thread name says CPU {n}')
    if e.get('apic_id') != want[0][1]:
        fail(f'tid {tid}: manifest apic_id {e.get("apic_id")}, tracepoint vcpu_id {want[0][1]}')
    if len(got) != len(want):
        fail(f'vCPU {n}: {len(got)} offsets in manifest, {len(want)} writes in trace-cmd report')
    for (gts, goff), (wts, _, woff) in zip(got, want):
        if (gts, goff) != (wts, woff):
            fail(f'vCPU {n}: manifest ({gts}, {goff:#x}) != trace ({wts}, {woff:#x})')
    for o in e['offsets']:
        if o.get('source') != 'tracepoint' or o.get('error_ticks') != 0:
            fail(f'vCPU {n}: offset at {o["host_tsc"]}: source {o.get("source")}, '
                 f'error {o.get("error_ticks")} (want tracepoint, 0)')
print(f'manifest: {len(entries)} vCPUs, offsets equal to the tracepoint writes of pid {pid}')
EOF
python3 check.py host.txt "$pid" "$noise" || vt_fail "trace-cmd report of host.dat lacks the expected writes"

if vt_have_cli; then
	"$VT_CLI" merge --host host.dat --pid "$pid" --tgids saved_tgids -o out >merge.log 2>&1 || {
		cat merge.log
		vt_fail "virt-trace merge --host host.dat --pid $pid --tgids saved_tgids -o out failed"
	}
	[ -s out/manifest.json ] || vt_fail "virt-trace merge wrote no out/manifest.json"
	python3 check.py host.txt "$pid" "$noise" out/manifest.json || {
		cat out/manifest.json
		vt_fail "manifest.json offset timeline differs from trace-cmd report"
	}
	if [ -e out/host.dat ]; then
		trace-cmd report -i out/host.dat >/dev/null 2>report-out.err || {
			cat report-out.err
			vt_fail "trace-cmd report cannot read out/host.dat"
		}
	fi
	vt_log "virt-trace merge: manifest matches"
fi
vt_log "ok"
