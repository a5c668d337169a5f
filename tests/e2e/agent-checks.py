#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks of tests/e2e/test-agent-demo.sh on one run of the demo guest.

usage: agent-checks.py RUN-DIR BOTH-REPORT GUEST-REPORT HOST-REPORT

BOTH-REPORT is `trace-cmd report --raw-ts -i host.dat -i guest.dat`, GUEST-REPORT
and HOST-REPORT the same of guest.dat and host.dat alone. Prints one line per
check; exits 1 at the first failed check with "FAIL: reason".

The manifest is searched by key, wherever the key stands, so that the checks
hold for any layout of the collector's part of it:
  - an object with "source": "probe" and an integer "error_ticks" > 0
  - a segment boundary of the guest's msr:write_msr marker: a non-empty list or
    a count > 0 under a key that names a boundary or a marker
"""
import collections
import json
import re
import sys

# "[cpu] ts: event: fields"; whatever stands before it (comm-pid, and with
# several files or instances a file, instance or guest name) is not used
EVENT = re.compile(r'\[(\d{3,})\]\s*(\d+):\s+([A-Za-z0-9_]+):\s*(.*)$')


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def events(path, side=''):
    """(side, cpu, ts, event, fields) of each event line of a report"""
    out = []
    with open(path, errors='replace') as f:
        for line in f:
            m = EVENT.search(line)
            if m:
                out.append((side, int(m.group(1)), int(m.group(2)), m.group(3),
                            m.group(4).strip()))
    return out


def sides(both, guest):
    """both's events, each marked guest when guest.dat alone has it, else host"""
    left = collections.Counter(e[1:] for e in guest)
    out = []
    for e in both:
        if left[e[1:]] > 0:
            left[e[1:]] -= 1
            out.append(('guest',) + e[1:])
        else:
            out.append(('host',) + e[1:])
    return out


def walk(o, path=''):
    """(path, key, value) of every member of every object, recursively"""
    if isinstance(o, dict):
        for k, v in o.items():
            p = path + '.' + k
            yield p, k, v
            yield from walk(v, p)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from walk(v, '%s[%d]' % (path, i))


def objects(o, path=''):
    if isinstance(o, dict):
        yield path, o
        for k, v in o.items():
            yield from objects(v, path + '.' + k)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from objects(v, '%s[%d]' % (path, i))


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    run, both_f, guest_f, host_f = sys.argv[1:]
    with open(run + '/manifest.json') as f:
        man = json.load(f)

    # 1. host and guest events interleaved, in timestamp order
    guest = events(guest_f, 'guest')
    host = events(host_f, 'host')
    both = sides(events(both_f), guest)
    hostn = [e for e in both if e[0] == 'host']
    guestn = [e for e in both if e[0] == 'guest']
    if not hostn or not guestn:
        fail('trace-cmd report -i host.dat -i guest.dat: %d host and %d guest events'
             % (len(hostn), len(guestn)))
    if len(hostn) != len(host) or len(guestn) != len(guest):
        fail('trace-cmd report -i host.dat -i guest.dat: %d host and %d guest events, alone %d and %d'
             % (len(hostn), len(guestn), len(host), len(guest)))
    back = [(a, b) for a, b in zip(both, both[1:]) if b[2] < a[2]]
    if back:
        a, b = back[0]
        fail('trace-cmd report -i host.dat -i guest.dat is out of timestamp order %d times, '
             'first: %s %d then %s %d' % (len(back), a[0], a[2], b[0], b[2]))
    switches = sum(1 for a, b in zip(both, both[1:]) if a[0] != b[0])
    if switches < 3:
        fail('host and guest events do not interleave (%d changes of file in %d events)'
             % (switches, len(both)))
    print('ok: trace-cmd report -i host.dat -i guest.dat: %d host, %d guest events, in order, '
          '%d changes between them' % (len(hostn), len(guestn), switches))

    # 2. the workload's sched_switch events in guest.dat
    sw = [e for e in guest if e[3] == 'sched_switch']
    work = [e for e in sw if re.search(r'\b(sleep|md5sum|ls|50-demo-workloa)[:\s]', e[4])]
    if not work:
        fail('guest.dat: no sched_switch of the workload (sleep, ls, md5sum) among %d sched_switch'
             % len(sw))
    print('ok: guest.dat: %d events, %d sched_switch, %d of them of the workload'
          % (len(guest), len(sw), len(work)))

    # 3. the offset source: probe, with its error bound
    probes = [(p, o) for p, o in objects(man) if o.get('source') == 'probe']
    if not probes:
        fail('manifest: no offset with "source": "probe"')
    good = [(p, o) for p, o in probes
            if isinstance(o.get('error_ticks'), int) and not isinstance(o.get('error_ticks'), bool)
            and o['error_ticks'] > 0]
    if not good:
        fail('manifest: probe offsets without an error_ticks > 0: %s'
             % ', '.join('%s=%r' % (p, o.get('error_ticks')) for p, o in probes))
    err = max(o['error_ticks'] for _, o in good)
    print('ok: manifest: offset source probe at %s, error_ticks %s'
          % (', '.join(p for p, _ in good), ', '.join(str(o['error_ticks']) for _, o in good)))

    # 4. every guest event inside the run: between the first and last host event
    lo, hi = min(e[2] for e in host), max(e[2] for e in host)
    out = [e for e in guest if e[2] < lo - err or e[2] > hi + err]
    if out:
        e = out[0]
        fail('%d of %d guest events lie outside the run [%d, %d] (+- %d ticks), first: cpu %d '
             'ts %d %s' % (len(out), len(guest), lo, hi, err, e[1], e[2], e[3]))
    print('ok: all %d guest events lie within the run [%d, %d] (host TSC; guest %d..%d)'
          % (len(guest), lo, hi, min(e[2] for e in guest), max(e[2] for e in guest)))

    # 5. the wrtsc marker: msr:write_msr of MSR 0x10 in guest.dat, and in the manifest
    marks = [e for e in guest if e[3] == 'write_msr' and re.match(r'(0x)?0*10\b', e[4])]
    if not marks:
        fail('guest.dat: no write_msr event of MSR 0x10 (wrtsc) among %d write_msr'
             % sum(1 for e in guest if e[3] == 'write_msr'))
    named = []
    for p, k, v in walk(man):
        if not re.search(r'boundar|marker', k, re.I):
            continue
        if isinstance(v, list) and v:
            named.append('%s (%d)' % (p, len(v)))
        elif isinstance(v, int) and not isinstance(v, bool) and v > 0:
            named.append('%s = %d' % (p, v))
    if not named:
        fail('manifest: no segment boundary or marker count for the %d write_msr marker(s) of '
             'guest.dat' % len(marks))
    print('ok: %d msr:write_msr marker(s) of MSR 0x10 in guest.dat; manifest: %s'
          % (len(marks), ', '.join(named)))


main()
