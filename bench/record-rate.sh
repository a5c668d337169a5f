#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Recording rate: the real hook and recorder record every sched and irq event of the
# host (host events and buffer size through the config file, VT_CONFIG) while a
# ping-pong workload (two processes over pipes, N round trips a second, each a few
# sched_switch/sched_wakeup events) runs; the manifest's lost_events says what the
# ring buffers lost. Without --rate it ramps the rate at the default host buffer
# size (8192 KiB/CPU) and at --sizes, and prints, per size, the highest event rate
# recorded without loss. A domain name libvirt does not know, a temporary store
# (VT_STATE_DIR, VT_RUN_DIR), no 'started' (so nothing narrows the instance to
# QEMU's threads; the run ends 'incomplete', "QEMU never started"). Needs root and
# kvm loaded (the -tsc instance); run it under the e2e lock.
#
# usage: bench/record-rate.sh [--seconds S] [--sizes "KB KB"] [--rates "R R ..."] [--pairs P]
#        bench/record-rate.sh --rate R --buffer-kb KB [--seconds S] [--events LIST]
#   one run: prints "rate R buffer_kb KB roundtrips_per_s A events N lost L exact X
#   warned W state S dropped_bytes D" (--show: then 'virt-trace show' of the run)
#   --pairs  ping-pong pairs running at once, each at the rate (default 1)
# env: HOOK (default build/hook/virt-trace-hook), VT_CLI (default build/core/virt-trace)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${VT_BUILD_DIR:-$root/build}
hook=${HOOK:-$build/hook/virt-trace-hook}
export VT_CLI=${VT_CLI:-$build/core/virt-trace}
secs=5
rate=
kb=
events="sched:*,irq:*"
sizes="1024 65536"
rates="1000 3000 10000 30000 100000 0"
pairs=1
show=

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) secs=$2; shift ;;
	--rate) rate=$2; shift ;;
	--buffer-kb) kb=$2; shift ;;
	--events) events=$2; shift ;;
	--sizes) sizes=$2; shift ;;
	--rates) rates=$2; shift ;;
	--show) show=1 ;;
	--pairs) pairs=$2; shift ;;
	-h | --help) sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "record-rate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "record-rate.sh: needs root (tracefs)" >&2; exit 1; }
[ -x "$hook" ] && [ -x "$VT_CLI" ] || { echo "record-rate.sh: $hook or $VT_CLI not built" >&2; exit 1; }
[ -d /sys/kernel/tracing/events/kvm/kvm_write_tsc_offset ] ||
	{ echo "record-rate.sh: no kvm:kvm_write_tsc_offset (kvm not loaded)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vt-rate.XXXXXX)
name=vt-rate-$$
cleanup()
{
	local i
	[ -n "${wl:-}" ] && kill "$wl" 2>/dev/null
	for i in "virt-trace-$name" "virt-trace-$name-tsc"; do
		[ -d "/sys/kernel/tracing/instances/$i" ] || continue
		echo 0 >"/sys/kernel/tracing/instances/$i/tracing_on" 2>/dev/null
		rmdir "/sys/kernel/tracing/instances/$i" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export VT_STATE_DIR=$tmp/store VT_RUN_DIR=$tmp/run VT_LIBVIRT_RUNDIR=$tmp/qemu VT_CONFIG=$tmp/virt-trace.conf
mkdir -p "$tmp/store" "$tmp/run" "$tmp/qemu"

# workload RATE SECS: --pairs ping-pongs of RATE round trips a second each (0: as
# fast as they go); prints the round trips a second of all
workload()
{
	local p pids=() sum=0 v
	for ((p = 0; p < pairs; p++)); do
		pingpong "$1" "$2" >"$tmp/pp.$p" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for ((p = 0; p < pairs; p++)); do
		v=$(cut -d. -f1 "$tmp/pp.$p")
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

pingpong()
{
	python3 - "$1" "$2" <<'PY'
import os, sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
r1, w1 = os.pipe()
r2, w2 = os.pipe()
if os.fork() == 0:
    os.close(w1); os.close(r2)
    while True:
        b = os.read(r1, 1)
        if not b:
            os._exit(0)
        os.write(w2, b)
os.close(r1); os.close(w2)
t0 = time.monotonic()
n = 0
batch = max(1, rate // 200) if rate else 256
while time.monotonic() - t0 < secs:
    for _ in range(batch):
        os.write(w1, b'x')
        os.read(r2, 1)
    n += batch
    if rate:
        ahead = t0 + n / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
os.close(w1)
os.wait()
print(n / (time.monotonic() - t0))
PY
}

xml()
{
	cat <<XML
<domain type='kvm'><name>$name</name><uuid>6f1b1d4e-0b7a-4a51-9d0e-$(printf %012d $$)</uuid></domain>
XML
}

# one_run RATE KB: record SECS of the workload, print the figures
one_run()
{
	local r=$1 k=$2 i dir achieved
	printf '{"host_events": "%s", "host_buffer_kb": %s}\n' "$events" "$k" >"$VT_CONFIG"
	rm -rf "${VT_STATE_DIR:?}/$name"
	xml | "$hook" "$name" prepare begin - || { echo "record-rate.sh: prepare failed" >&2; return 1; }
	xml | "$hook" "$name" start begin - || { echo "record-rate.sh: start failed" >&2; return 1; }
	for ((i = 0; i < 100; i++)); do
		"$VT_CLI" status 2>/dev/null | grep -q "^$name " && break
		sleep 0.1
	done
	# the recorder's readers and the main instance are up
	sleep 1
	achieved=$(workload "$r" "$secs")
	xml | "$hook" "$name" stopped end - || true
	for ((i = 0; i < 600; i++)); do
		[ -e "$VT_STATE_DIR/$name/.lock" ] && ! python3 "$root/tests/e2e/lock-held.py" "$VT_STATE_DIR/$name/.lock" && break
		sleep 0.1
	done
	xml | "$hook" "$name" release end - || true
	dir=$(readlink -f "$VT_STATE_DIR/$name/latest") || { echo "record-rate.sh: no run" >&2; return 1; }
	python3 - "$dir/manifest.json" "$r" "$k" "$achieved" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
lost = m.get('lost_events', {})
host = m.get('host', {})
rec = m.get('recorder', {})
t0, t1 = m.get('started'), m.get('finished')
ev = host.get('events', 0)
# the recording covers the workload plus about 2 s around it
secs = float(sys.argv[5]) if len(sys.argv) > 5 else None
warned = any('lost in the ring buffers' in w for w in m.get('warnings', []))
print(f"rate {sys.argv[2]} buffer_kb {sys.argv[3]} roundtrips_per_s {float(sys.argv[4]):.0f} "
      f"events {ev} lost {lost.get('total', 'none')} exact {lost.get('exact')} warned {warned} "
      f"state {m.get('state')} dropped_bytes {rec.get('dropped_bytes', 0)}")
PY
	[ -z "$show" ] || "$VT_CLI" show "$name"
}

if [ -n "$rate" ]; then
	one_run "$rate" "${kb:-8192}"
	exit
fi

echo "record-rate: $events, $secs s per step, ping-pong round trips/s ramp: $rates (0 = flat out)"
for k in 8192 $sizes; do
	best=0
	for r in $rates; do
		line=$(one_run "$r" "$k") || exit 1
		echo "$line"
		ev=$(awk '{for (i = 1; i < NF; i++) if ($i == "events") print $(i + 1)}' <<<"$line")
		lost=$(awk '{for (i = 1; i < NF; i++) if ($i == "lost") print $(i + 1)}' <<<"$line")
		# events over the recording: the workload's seconds plus ~1.5 s of set-up and stop
		eps=$(( ev / (secs + 1) ))
		[ "$lost" = 0 ] && [ "$eps" -gt "$best" ] && best=$eps
	done
	echo "buffer ${k} KiB/CPU: highest rate without loss ~${best} events/s (events / (workload s + 1))"
done
