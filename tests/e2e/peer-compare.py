#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Compare `virt-trace report --json` with `trace-cmd report -t --raw-ts -i host.dat
# -i guest.dat ...`: the same events (side, timestamp, event name) in the same order
# (events with equal timestamps may come in any order).
import json
import re
import sys

LINE = re.compile(r'^\s*(?P<file>[\w.-]+): (?P<comm>.*)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s*'
                  r'(?P<ts>\d+): (?P<event>\w+):')


def side_of(label, guests):
    return guests.get(label, 'host')


def main():
    ours_path, theirs_path = sys.argv[1], sys.argv[2]
    # guest file name -> our side label
    guests = dict(arg.split('=') for arg in sys.argv[3:])
    ours = []
    with open(ours_path) as f:
        for line in f:
            e = json.loads(line)
            ours.append((e['ts'], e['side'], e['event'].split(':')[-1], e['cpu']))
    theirs = []
    with open(theirs_path) as f:
        for n, line in enumerate(f, 1):
            if re.search(r'warning|error|unknown', line, re.I):
                sys.exit(f'trace-cmd report line {n}: {line.strip()}')
            m = LINE.match(line)
            if not m:
                continue
            theirs.append((int(m['ts']), side_of(m['file'], guests), m['event'],
                           int(m['cpu'])))
    if len(ours) != len(theirs):
        sys.exit(f'virt-trace report has {len(ours)} events, trace-cmd report {len(theirs)}')
    if not ours:
        sys.exit('no events')
    # equal timestamps may be in any order: compare groups of equal ts
    i = 0
    while i < len(ours):
        j = i
        while j < len(ours) and ours[j][0] == ours[i][0]:
            j += 1
        if sorted(ours[i:j]) != sorted(theirs[i:j]):
            sys.exit(f'event {i}: virt-trace {ours[i:j]} != trace-cmd {theirs[i:j]}')
        i = j
    sides = {e[1] for e in ours}
    print(f'{len(ours)} events in the same order ({", ".join(sorted(sides))})')


if __name__ == '__main__':
    main()
