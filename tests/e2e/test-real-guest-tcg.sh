#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real guest data: boots the example guest image (Debian kernel + busybox +
# trace-cmd) under TCG; inside, trace-cmd records sched:sched_switch and
# msr:write_msr with clock x86-tsc, and the file comes out through a
# virtio-serial port backed by a host file. Checks that trace-cmd reads it
# (v7, sched_switch events), then that `virt-trace merge` with a user offset of
# 0 and `virt-trace report` keep every guest event.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 90 "$@"

vt_need_root
vt_need_cmd qemu-system-x86_64 trace-cmd cpio gzip modprobe python3
vt_need_tracefs
image=${VT_GUEST_IMAGE_DIR:-$VT_BUILD_DIR/guest-image}

vt_workdir guest-tcg
inst=vt-e2e-tcg-$$
qemu_pid=

cleanup()
{
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
	wait 2>/dev/null
	vt_instance_remove "$inst"
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# 1. The image (cached: rebuilt only when its inputs change).
"$VT_SOURCE_DIR/examples/build-guest-image.sh" -o "$image" --with trace-cmd >image.log 2>&1
rc=$?
[ $rc = 3 ] && vt_skip "no guest image: $(tail -1 image.log)"
[ $rc = 0 ] || { cat image.log; vt_fail "examples/build-guest-image.sh -o $image --with trace-cmd failed"; }
vt_log "$(cat image.log)"

# 2. This test's hook, appended to the image as a second cpio archive.
mkdir -p overlay/etc/vt-init.d
cat >overlay/etc/vt-init.d/50-e2e-record <<'EOF'
#!/bin/sh
# record the guest, send the file to the host through the vt.out port
out=/dev/virtio-ports/vt.out
T=/sys/kernel/tracing
[ -e $out ] || { echo "VT-ERROR no $out"; poweroff -f; }
if ! trace-cmd record -C x86-tsc -e sched:sched_switch -e msr:write_msr \
	-o /tmp/g.dat sleep 1 >/tmp/record.log 2>&1; then
	cat /tmp/record.log
	echo "vt-e2e: trace-cmd record failed; recording through tracefs"
	echo x86-tsc >$T/trace_clock
	echo 1 >$T/events/sched/sched_switch/enable
	echo 1 >$T/events/msr/write_msr/enable
	echo 1 >$T/tracing_on
	sleep 1
	echo 0 >$T/tracing_on
	trace-cmd extract -o /tmp/g.dat >/tmp/extract.log 2>&1 || cat /tmp/extract.log
fi
if [ -s /tmp/g.dat ]; then
	cat /tmp/g.dat >$out
	echo "VT-SENT $(wc -c </tmp/g.dat) $(sha256sum </tmp/g.dat | cut -d' ' -f1)"
else
	echo "VT-ERROR no trace file"
fi
poweroff -f
EOF
chmod 755 overlay/etc/vt-init.d/50-e2e-record
cp "$image/initrd.img" initrd.img
(cd overlay && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) | gzip >>initrd.img

# 3. Boot under TCG.
t_boot=$(date +%s%N)
qemu-system-x86_64 -accel tcg -m 512 -kernel "$image/vmlinuz" -initrd initrd.img \
	-append 'console=ttyS0 quiet panic=-1 vt.poweroff=1' -nographic -no-reboot -nic none \
	-device virtio-serial-pci -chardev file,id=vtout,path=guest.out \
	-device virtserialport,chardev=vtout,name=vt.out \
	</dev/null >console.log 2>&1 &
qemu_pid=$!
if ! timeout 60 tail --pid="$qemu_pid" -f /dev/null; then
	tail -40 console.log
	vt_fail "guest did not power off within 60 s"
fi
wait "$qemu_pid"
qrc=$?
qemu_pid=
boot_ms=$(( ($(date +%s%N) - t_boot) / 1000000 ))
tr -d '\r' <console.log >console.txt
[ $qrc = 0 ] || { tail -40 console.txt; vt_fail "QEMU exited with status $qrc"; }
sent=$(grep -aoE 'VT-SENT [0-9]+ [0-9a-f]{64}' console.txt | tail -1)
[ -n "$sent" ] || { tail -40 console.txt; vt_fail "the guest sent no trace (see console above)"; }
read -r _ size sum <<<"$sent"
[ "$(stat -c %s guest.out)" = "$size" ] && [ "$(sha256sum <guest.out | cut -d' ' -f1)" = "$sum" ] ||
	vt_fail "guest file corrupted in transit: guest sent $size bytes $sum, host got $(stat -c %s guest.out)"
mv guest.out guest.dat
vt_log "guest booted, recorded and powered off in $boot_ms ms; guest.dat: $size bytes"

# 4. trace-cmd reads it: v7, sched_switch events.
trace-cmd dump --summary -i guest.dat >dump.txt 2>&1 || { cat dump.txt; vt_fail "trace-cmd dump failed"; }
grep -Eq '^[[:space:]]*7[[:space:]]+\[Version\]' dump.txt || { cat dump.txt; vt_fail "guest.dat is not v7"; }
grep -q '"x86-tsc" clock' dump.txt || { cat dump.txt; vt_fail "guest.dat clock is not x86-tsc"; }
trace-cmd report -t -i guest.dat >guest.txt 2>report.err || {
	cat report.err
	vt_fail "trace-cmd report -i guest.dat failed"
}
n_guest=$(vt_count_events guest.txt)
n_switch=$(vt_count_events guest.txt sched_switch)
[ "$n_switch" -gt 0 ] || vt_fail "no sched_switch events in guest.dat"
vt_log "guest.dat: v7, $n_guest events ($n_switch sched_switch, $(vt_count_events guest.txt write_msr) write_msr)"

# 5. The CLI: merge with a user offset of 0 keeps every guest event.
vt_have_cli || { vt_log "ok"; exit 0; }
vt_instance_create "$inst" x86-tsc sched:sched_switch
sleep 0.2
echo 0 >$VT_TRACEFS/instances/$inst/tracing_on
trace-cmd extract -B "$inst" -o host.dat >extract.log 2>&1 || {
	cat extract.log
	vt_fail "trace-cmd extract -B $inst failed"
}
vt_instance_remove "$inst"

"$VT_CLI" merge --host host.dat --guest guest.dat --offset-source user --offset 0 -o out \
	>merge.log 2>&1 || {
	cat merge.log
	vt_fail "virt-trace merge --host host.dat --guest guest.dat --offset-source user --offset 0 failed"
}
for f in manifest.json host.dat guest.dat; do
	[ -s "out/$f" ] || vt_fail "virt-trace merge wrote no out/$f"
done

trace-cmd report -t -i out/guest.dat >out-guest.txt 2>report.err || {
	cat report.err
	vt_fail "trace-cmd report cannot read out/guest.dat"
}
n=$(vt_count_events out-guest.txt)
[ "$n" = "$n_guest" ] || vt_fail "out/guest.dat has $n events, guest.dat $n_guest"

trace-cmd report -t -i out/host.dat -i out/guest.dat >out-both.txt 2>report.err || {
	cat report.err
	vt_fail "trace-cmd report -i out/host.dat -i out/guest.dat failed"
}
n=$(grep -E '^ *guest\.dat:' out-both.txt | vt_count_events /dev/stdin)
[ "$n" = "$n_guest" ] || vt_fail "trace-cmd report of host+guest shows $n guest events, want $n_guest"

"$VT_CLI" report out --json >report.json 2>report.err || {
	cat report.err
	vt_fail "virt-trace report out --json failed"
}
n=$(python3 - report.json <<'EOF'
import json, sys
# JSON Lines (one event object per line) or one array of event objects;
# an event belongs to the guest when its "side" is guest (guest-boot2... for later boots).
text = open(sys.argv[1]).read()
try:
    events = json.loads(text)
    if isinstance(events, dict):
        events = events.get('events', [])
except ValueError:
    events = [json.loads(l) for l in text.splitlines() if l.strip()]
print(sum(1 for e in events if str(e.get('side', '')).startswith('guest')))
EOF
) || vt_fail "virt-trace report --json is not JSON"
[ "$n" = "$n_guest" ] || vt_fail "virt-trace report --json lists $n guest events, want $n_guest"
vt_log "virt-trace merge + report: all $n_guest guest events kept"
vt_log "ok"
