#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hook latency: call the installed hook for each op N times (default 100) in
# lifecycle order, with a fake domain XML on stdin and a domain name libvirt
# does not know, and print median and p99 per op against DESIGN.md §2's budgets
# (start < 50 ms, every other op < 10 ms). 'start begin' runs for real: it
# creates the tracefs instances and spawns the real recorder, which 'stopped
# end' stops. Runs and sockets go to a temporary store (VT_STATE_DIR, VT_RUN_DIR),
# the QEMU pid file is faked (VT_LIBVIRT_RUNDIR, a sleep process); everything is
# removed afterwards. Between 'start' and 'started' (untimed) the script waits
# until the recorder answers, as QEMU's start-up would; after 'release' until it
# has exited. Needs root.
#
# usage: bench/hook-latency.sh [N]     (env HOOK= to time another hook binary)
set -uo pipefail

n=${1:-100}
hook=${HOOK:-/etc/libvirt/hooks/qemu.d/virt-trace}
[ "$(id -u)" = 0 ] || { echo "hook-latency.sh: needs root (tracefs)" >&2; exit 1; }
[ -x "$hook" ] || { echo "hook-latency.sh: $hook not installed (cmake --install build --prefix /usr)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vt-hook-bench.XXXXXX)
name=vt-bench-$$
mkdir -p "$tmp/store" "$tmp/run" "$tmp/qemu"
sleep 3600 &
fake_qemu=$!
echo "$fake_qemu" >"$tmp/qemu/$name.pid"

cleanup()
{
	kill "$fake_qemu" 2>/dev/null
	wait "$fake_qemu" 2>/dev/null
	for i in "virt-trace-$name" "virt-trace-$name-tsc"; do
		[ -d "/sys/kernel/tracing/instances/$i" ] || continue
		echo 0 >"/sys/kernel/tracing/instances/$i/tracing_on" 2>/dev/null
		rmdir "/sys/kernel/tracing/instances/$i" 2>/dev/null ||
			echo "hook-latency.sh: warning: could not remove instance $i" >&2
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export VT_STATE_DIR=$tmp/store VT_RUN_DIR=$tmp/run VT_LIBVIRT_RUNDIR=$tmp/qemu

python3 - "$hook" "$name" "$n" "$tmp/store" "$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/lock-held.py" <<'PY'
import os, statistics, subprocess, sys, time

hook, name, n, store = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock_held = sys.argv[5]
xml = f"""<domain type='kvm'>
  <name>{name}</name>
  <uuid>6f1b1d4e-0b7a-4a51-9d0e-{os.getpid():012d}</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
</domain>
""".encode()
# lifecycle order; reconnect while "running", migrate as an op the hook ignores
ops = [('prepare', 'begin'), ('start', 'begin'), ('started', 'begin'),
       ('reconnect', 'begin'), ('migrate', 'begin'), ('stopped', 'end'), ('release', 'end')]
budget = {'start': 50.0}
times = {op: [] for op, _ in ops}
fails = {op: 0 for op, _ in ops}


def recorder_up(timeout):
    """the recorder answers on its control socket (libvirt takes far longer than
    this between 'start' and 'started': QEMU has to start)"""
    import socket
    path = os.path.join(os.environ['VT_RUN_DIR'], name + '.sock')
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(path)
                s.sendall(b'ping\n')
                if s.recv(64).startswith(b'ok'):
                    return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def recorder_gone(timeout):
    lock = os.path.join(store, name, '.lock')
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        # tested with F_OFD_GETLK, never taken (tests/e2e/lock-held.py)
        if subprocess.call([lock_held, lock]) != 0:
            return True
        time.sleep(0.02)
    return False


for i in range(n):
    for op, sub in ops:
        t0 = time.perf_counter()
        p = subprocess.run([hook, name, op, sub, '-'], input=xml, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        times[op].append((time.perf_counter() - t0) * 1000)
        if p.returncode:
            fails[op] += 1
        if op == 'start' and not recorder_up(10):
            print(f'hook-latency: iteration {i}: no recorder answers 10 s after start',
                  file=sys.stderr)
            sys.exit(1)
    if not recorder_gone(30):
        print(f'hook-latency: iteration {i}: the recorder did not exit 30 s after stop',
              file=sys.stderr)
        sys.exit(1)

print(f'hook {hook}, {n} calls per op')
print(f'{"op":<18} {"median ms":>10} {"p99 ms":>10} {"max ms":>10} {"budget":>8}  verdict')
bad = 0
for op, sub in ops:
    t = sorted(times[op])
    med = statistics.median(t)
    p99 = t[min(len(t) - 1, int(round(0.99 * (len(t) - 1))))]
    b = budget.get(op, 10.0)
    ok = p99 < b and not fails[op]
    bad += not ok
    note = f', {fails[op]} non-zero exits' if fails[op] else ''
    print(f'{op + " " + sub:<18} {med:>10.2f} {p99:>10.2f} {t[-1]:>10.2f} {"<" + str(int(b)) + " ms":>8}  '
          f'{"ok" if ok else "OVER"}{note}')
sys.exit(1 if bad else 0)
PY
