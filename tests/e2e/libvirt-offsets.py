# SPDX-License-Identifier: GPL-2.0-or-later
# Check a recorded run: its manifest's per-vCPU offset timeline equals exactly the
# kvm_write_tsc_offset events of QEMU's vCPU threads in `trace-cmd report --raw-ts
# -i host.dat`, with source tracepoint, and nothing of another process.
# usage: libvirt-offsets.py MANIFEST REPORT THREADS QEMU-PID
import json
import re
import sys

manifest, report, threads, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
line_re = re.compile(r'^\s*(?:\S+:\s+)?(?P<comm>.+)-(?P<tid>\d+)\s+(?:\(\s*\d+\)\s+)?\[(?P<cpu>\d+)\]'
                     r'\s*(?:\S+\s+)?(?P<ts>\d+):'
                     r' kvm_write_tsc_offset:\s+vcpu=(?P<vcpu>\d+) prev=(?P<prev>\d+) next=(?P<next>\d+)')


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


vcpu_tids = {}  # tid -> guest CPU n
all_tids = set()
for line in open(threads):
    tid, comm = line.rstrip('\n').split(' ', 1)
    all_tids.add(int(tid))
    m = re.fullmatch(r'CPU (\d+)/KVM', comm)
    if m:
        vcpu_tids[int(tid)] = int(m.group(1))
if not vcpu_tids:
    fail(f'{threads}: no CPU n/KVM thread of pid {pid}')

writes = {}  # tid -> [(host_tsc, vcpu_id, next)]
nlines = 0
for line in open(report):
    m = line_re.match(line)
    if m:
        nlines += 1
        writes.setdefault(int(m['tid']), []).append((int(m['ts']), int(m['vcpu']), int(m['next'])))
if not nlines:
    fail(f'{report}: no kvm_write_tsc_offset event in host.dat')
foreign_ts = {w[0] for t, ws in writes.items() if t not in vcpu_tids for w in ws}

try:
    mf = json.load(open(manifest))
except (OSError, ValueError) as e:
    fail(f'{manifest}: {e}')
if mf.get('state') != 'complete':
    fail(f'state {mf.get("state")} ({mf.get("state_reason")}), want complete')
if mf.get('qemu_pid') != pid:
    fail(f'manifest qemu_pid {mf.get("qemu_pid")}, the domain ran as pid {pid}')
entries = mf.get('vcpus')
if not isinstance(entries, list) or not entries:
    fail('manifest has no "vcpus" list')
by_tid = {}
for e in entries:
    tid = e.get('tid')
    if tid not in all_tids:
        fail(f'manifest vCPU {e.get("vcpu")}: tid {tid} is not a thread of QEMU pid {pid}')
    by_tid[tid] = e
    for o in e.get('offsets', []):
        if o.get('host_tsc') in foreign_ts:
            fail(f'manifest vCPU {e.get("vcpu")}: write at {o.get("host_tsc")} of another process')
if set(by_tid) != set(vcpu_tids):
    fail(f'manifest vCPU tids {sorted(by_tid, key=str)} != CPU n/KVM threads {sorted(vcpu_tids)}')
total = 0
for tid, n in sorted(vcpu_tids.items(), key=lambda x: x[1]):
    e = by_tid[tid]
    want = sorted(writes.get(tid, []))
    got = sorted((o['host_tsc'], int(o['offset'], 16)) for o in e.get('offsets', []))
    if not want:
        fail(f'vCPU {n} (tid {tid}): no kvm_write_tsc_offset in host.dat')
    if e.get('vcpu') != n:
        fail(f'tid {tid}: manifest vcpu {e.get("vcpu")}, thread name says CPU {n}')
    if e.get('apic_id') != want[0][1]:
        fail(f'tid {tid}: manifest apic_id {e.get("apic_id")}, tracepoint vcpu_id {want[0][1]}')
    if len(got) != len(want):
        fail(f'vCPU {n}: {len(got)} offsets in the manifest, {len(want)} writes in host.dat')
    for (gts, goff), (wts, _, woff) in zip(got, want):
        if (gts, goff) != (wts, woff):
            fail(f'vCPU {n}: manifest ({gts}, {goff:#x}) != host.dat ({wts}, {woff:#x})')
    for o in e['offsets']:
        if o.get('source') != 'tracepoint' or o.get('error_ticks') != 0:
            fail(f'vCPU {n}: offset at {o["host_tsc"]}: source {o.get("source")}, '
                 f'error {o.get("error_ticks")} (want tracepoint, 0)')
    total += len(got)
print(f'manifest: {len(entries)} vCPUs, {total} offsets = the tracepoint writes of pid {pid}; '
      f'{len(foreign_ts)} writes of other processes in host.dat left out')
