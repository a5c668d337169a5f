#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Recording rate: the real hook and recorder record every sched and irq event of the
# host (host events and buffer size through the config file, VT_CONFIG) while a
# ping-pong workload (two processes over pipes, N round trips a second, each a few
# sched_switch/sched_wakeup events) runs; the manifest's lost_events says what the
# ring buffers lost, and the instance's own per-CPU stats (overrun, dropped events,
# read events, entries), read just before and after the workload, say how many
# events the kernel wrote meanwhile (events/s) and how many it overwrote. Without
# --rate it ramps the rate at the default host buffer size (8192 KiB/CPU) and at
# --sizes, and prints, per size, the highest event rate recorded without loss: at
# the default size, the figure "events/s recorded without loss". A domain name
# libvirt does not know, a temporary store (VT_STATE_DIR, VT_RUN_DIR, no collector).
# Without --qemu there is no 'started' (nothing narrows the instance; the run ends
# 'incomplete', "QEMU never started"). Needs root and kvm loaded (the -tsc
# instance); run it under the e2e lock.
#
# usage: bench/record-rate.sh [--seconds S] [--sizes "KB KB"] [--rates "R R ..."] [--pairs P] [--qemu]
#        bench/record-rate.sh --rate R --buffer-kb KB [--seconds S] [--events LIST]
#                             [--qemu] [--pause P] [--report] [--show]
#   one run: prints "rate R buffer_kb KB buffer_kb_seen B roundtrips_per_s A window_s W
#   window_events E window_lost WL events_per_s EPS events N lost L exact X warned W
#   state S dropped_bytes D k_overrun KO k_dropped KD ring_overrun RO ring_dropped RD
#   tc_status T tc_events TE tc_dropped TD": B the instance's buffer_size_kb as the
#   kernel applied it; E, WL, EPS from the ring's stats over the workload; N, L, X,
#   W, S, RO, RD from the manifest; KO, KD the kernel's overrun and dropped counts
#   (all CPUs, both instances) read after the workload, before the stop; T, TE, TD
#   from --report (TD: the sum of its "[M EVENTS DROPPED]" marks)
#   --qemu    the workload's parent process stands for QEMU: its pid goes to
#             'started begin', the instance is narrowed to it and its children, and
#             it is alive at 'stopped end' (the run can end 'complete')
#   --pause P SIGSTOP the recorder for P seconds, 1 s into the workload: the ring
#             buffers overwrite what it cannot read meanwhile
#   --report  'trace-cmd report' of the run's host.dat: its exit status, its events
#   --show    then 'virt-trace show' of the run
#   --pairs   ping-pong pairs running at once, each at the rate (default 1)
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
qemu=
pause=
report=

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
	--qemu) qemu=1 ;;
	--pause) pause=$2; shift ;;
	--report) report=1 ;;
	-h | --help) sed -n '3,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
	[ -n "${paused:-}" ] && kill -CONT "$paused" 2>/dev/null
	if [ -n "${wl:-}" ]; then
		kill $(pgrep -P "$wl") "$wl" 2>/dev/null
		wait "$wl" 2>/dev/null
	fi
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
# no guest agent to reach: the fake domain has none
export VT_NO_COLLECTOR=1
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

# ring_counts: the instances' ring buffer counts now, summed over CPUs (main and -tsc):
# "overrun dropped read entries"
ring_counts()
{
	cat "/sys/kernel/tracing/instances/virt-trace-$name"{,-tsc}/per_cpu/cpu*/stats 2>/dev/null |
		awk -F': *' '$1 == "overrun" { o += $2 } $1 == "dropped events" { d += $2 }
			$1 == "read events" { r += $2 } $1 == "entries" { e += $2 }
			END { printf "%d %d %d %d\n", o, d, r, e }'
}

now() { date +%s.%N; }

# one_run RATE KB: record SECS of the workload, print the figures
one_run()
{
	local r=$1 k=$2 i dir achieved qpid c0 c1 t0 t1 seen rec tc_status=none tc_events=none tc_dropped=none
	printf '{"host_events": "%s", "host_buffer_kb": %s}\n' "$events" "$k" >"$VT_CONFIG"
	rm -rf "${VT_STATE_DIR:?}/$name" "$tmp/go" "$tmp/achieved"
	xml | "$hook" "$name" prepare begin - || { echo "record-rate.sh: prepare failed" >&2; return 1; }
	xml | "$hook" "$name" start begin - || { echo "record-rate.sh: start failed" >&2; return 1; }
	for ((i = 0; i < 100; i++)); do
		"$VT_CLI" status 2>/dev/null | grep -q "^$name " && break
		sleep 0.1
	done
	# the workload waits for "go" in a process of its own: with --qemu it stands for
	# QEMU (its pid goes to 'started begin'; the instance is narrowed to it and its
	# children, event-fork), and is alive when the run stops, as QEMU is at 'stopped'
	mkfifo "$tmp/go"
	(
		read -r _ <"$tmp/go"
		workload "$r" "$secs" >"$tmp/achieved.tmp"
		mv "$tmp/achieved.tmp" "$tmp/achieved"
		exec sleep 3600
	) &
	qpid=$!
	wl=$qpid
	if [ -n "$qemu" ]; then
		echo "$qpid" >"$VT_LIBVIRT_RUNDIR/$name.pid"
		xml | "$hook" "$name" started begin - || { echo "record-rate.sh: started failed" >&2; return 1; }
		for ((i = 0; i < 50; i++)); do
			grep -qw "$qpid" "/sys/kernel/tracing/instances/virt-trace-$name/set_event_pid" && break
			sleep 0.1
		done
		[ $i -lt 50 ] || echo "record-rate.sh: the instance was not narrowed to pid $qpid" >&2
	fi
	# the recorder's readers and the main instance are up
	sleep 1
	c0=$(ring_counts) t0=$(now)
	echo go >"$tmp/go"
	if [ -n "$pause" ]; then
		sleep 1
		rec=$(pgrep -f "virt-trace record --domain $name( |\$)" | head -1)
		if [ -n "$rec" ]; then
			paused=$rec
			kill -STOP "$rec"
			sleep "$pause"
			kill -CONT "$rec"
			paused=
		else
			echo "record-rate.sh: no recorder to pause" >&2
		fi
	fi
	for ((i = 0; i < (secs + 60) * 20; i++)); do
		[ -e "$tmp/achieved" ] && break
		sleep 0.05
	done
	t1=$(now) c1=$(ring_counts)
	seen=$(cat "/sys/kernel/tracing/instances/virt-trace-$name/buffer_size_kb" 2>/dev/null)
	achieved=$(cat "$tmp/achieved" 2>/dev/null)
	xml | "$hook" "$name" stopped end - || true
	for ((i = 0; i < 600; i++)); do
		[ -e "$VT_STATE_DIR/$name/.lock" ] && ! python3 "$root/tests/e2e/lock-held.py" "$VT_STATE_DIR/$name/.lock" && break
		sleep 0.1
	done
	xml | "$hook" "$name" release end - || true
	kill "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	wl=
	rm -f "$VT_LIBVIRT_RUNDIR/$name.pid"
	dir=$(readlink -f "$VT_STATE_DIR/$name/latest") || { echo "record-rate.sh: no run" >&2; return 1; }
	if [ -n "$report" ]; then
		trace-cmd report -i "$dir/host.dat" >"$tmp/report.txt" 2>"$tmp/report.err"
		tc_status=$?
		tc_events=$(grep -Ec '\[[0-9]+\] *[0-9.]+: [a-z0-9_]+:' "$tmp/report.txt")
		# its "CPU:N [M EVENTS DROPPED]" marks (pages that stored the count)
		tc_dropped=$(grep -Eo '\[[0-9]+ EVENTS DROPPED\]' "$tmp/report.txt" |
			awk '{ n += substr($1, 2) } END { print n + 0 }')
		[ "$tc_status" = 0 ] || head -3 "$tmp/report.err" >&2
		rm -f "$tmp/report.txt"
	fi
	python3 - "$dir/manifest.json" "$r" "$k" "${achieved:-0}" "${seen:-none}" "$c0" "$c1" \
		"$t0" "$t1" "$tc_status" "$tc_events" "$tc_dropped" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rate, kb, achieved, seen = sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
c0 = [int(x) for x in sys.argv[6].split()]
c1 = [int(x) for x in sys.argv[7].split()]
t0, t1 = float(sys.argv[8]), float(sys.argv[9])
lost = m.get('lost_events', {})
rec = m.get('recorder', {})
ev = m.get('host', {}).get('events', 0)
warned = any('lost in the ring buffers' in w for w in m.get('warnings', []))
# the ring buffers' own counts over the workload (overrun, dropped, read, entries):
# every event the kernel wrote or dropped then, and those that did not reach the spool
offered = sum(c1) - sum(c0)
wlost = (c1[0] - c0[0]) + (c1[1] - c0[1])
secs = t1 - t0
ring = lambda key: sum(c.get(key, 0) for c in lost.get('cpus', []))
print(f"rate {rate} buffer_kb {kb} buffer_kb_seen {seen} roundtrips_per_s {achieved:.0f} "
      f"window_s {secs:.2f} window_events {offered} window_lost {wlost} "
      f"events_per_s {offered / secs if secs > 0 else 0:.0f} "
      f"events {ev} lost {lost.get('total', 'none')} exact {lost.get('exact')} warned {warned} "
      f"state {m.get('state')} dropped_bytes {rec.get('dropped_bytes', 0)} "
      f"k_overrun {c1[0]} k_dropped {c1[1]} ring_overrun {ring('overrun')} "
      f"ring_dropped {ring('dropped')} tc_status {sys.argv[10]} tc_events {sys.argv[11]} tc_dropped {sys.argv[12]}")
PY
	[ -z "$show" ] || "$VT_CLI" show "$name"
}

if [ -n "$rate" ]; then
	one_run "$rate" "${kb:-8192}"
	exit
fi

echo "record-rate: $events, $secs s per step, ping-pong round trips/s ramp: $rates (0 = flat out)${qemu:+, narrowed to a fake QEMU}"
# field NAME LINE
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }
for k in 8192 $sizes; do
	best=0 lossy=
	for r in $rates; do
		line=$(one_run "$r" "$k") || exit 1
		echo "$line"
		eps=$(field events_per_s "$line")
		# without loss: the manifest and the ring's counts over the workload agree on 0
		if [ "$(field lost "$line")" = 0 ] && [ "$(field window_lost "$line")" = 0 ]; then
			[ "$eps" -gt "$best" ] && best=$eps
		elif [ -z "$lossy" ] || [ "$eps" -lt "$lossy" ]; then
			lossy=$eps
		fi
	done
	if [ -n "$lossy" ]; then
		limit="events were lost from ${lossy} events/s on"
	else
		limit="no step lost events: the workload's most, the limit is higher"
	fi
	if [ "$k" = 8192 ]; then
		echo "events/s recorded without loss at the default buffer size (8192 KiB/CPU): $best ($limit)"
	else
		echo "buffer ${k} KiB/CPU: highest rate without loss $best events/s ($limit)"
	fi
done
