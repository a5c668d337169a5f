#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build a small bootable guest for QEMU (TCG or KVM) from this machine's Debian
# packages, with no network: the Debian kernel (linux-image-amd64) and an
# initramfs holding busybox-static, the virtio_pci/virtio_console/msr modules
# (and button/evdev for ACPI power-off through busybox acpid), and optionally
# qemu-ga and trace-cmd with their shared libraries. --demo makes the guest of
# examples/demo: qemu-ga, /usr/bin/wrtsc (examples/guest-tools/wrtsc.c, built
# with gcc -static) and a background workload (guest-tools/50-demo-workload).
#
# Output: DIR/vmlinuz, DIR/initrd.img, DIR/kernel-release, DIR/inputs (cache key).
# Boot:   qemu-system-x86_64 -accel tcg -m 512 -kernel DIR/vmlinuz \
#             -initrd DIR/initrd.img -append 'console=ttyS0 quiet' -nographic
# Extra files can be added without a rebuild by appending a second cpio
# archive (the kernel unpacks concatenated archives in order):
#   (cd overlay && find . | cpio -o -H newc -R 0:0) | gzip >> copy-of-initrd.img
set -euo pipefail

prog=${0##*/}
export PATH=$PATH:/usr/sbin:/sbin
MODULES=(virtio_pci virtio_console msr button evdev)
here=$(cd "$(dirname "$0")" && pwd)

usage()
{
	cat <<EOF
usage: $prog -o DIR [--with qemu-ga|trace-cmd|PROGRAM]... [--hook FILE]...
               [--demo] [--kernel VMLINUZ] [--force]

  -o DIR          output directory (vmlinuz, initrd.img)
  --with NAME     copy a program and the shared libraries it needs (ldd) into
                  the image: qemu-ga (/usr/sbin/qemu-ga), trace-cmd, or any path
  --hook FILE     install FILE as /etc/vt-init.d/<name>, run by /init at boot
  --demo          the guest of examples/demo: --with qemu-ga, /usr/bin/wrtsc
                  (writes MSR 0x10 through /dev/cpu/0/msr; needs gcc and the
                  static libc of libc6-dev) and the hook 50-demo-workload
  --kernel FILE   kernel image (default: newest /boot/vmlinuz-* of a Debian
                  package that has /lib/modules/<version>)
  --force         rebuild even if the inputs are unchanged

The guest's /init mounts proc, sys, devtmpfs, tmpfs, tracefs and debugfs, loads
the modules, links /dev/virtio-ports/<name>, starts qemu-ga when the port
org.qemu.guest_agent.0 exists, runs /etc/vt-init.d/* in order, then a shell on
the console (or powers off at once with vt.poweroff=1 on the kernel command line;
with vt.shell=0 it starts no shell and waits). The ACPI power button (virsh
shutdown --mode acpi) and qemu-ga's guest-shutdown (/sbin/shutdown) power the
guest off with busybox poweroff -f. /tmp, /run and /var/lib are tmpfs.

Exit status: 0 built or up to date, 1 error, 2 usage, 3 an input is missing
(no Debian kernel with modules, no static busybox, a --with program not installed).
EOF
}

die()
{
	echo "$prog: $*" >&2
	exit 1
}

# an input this machine lacks (kernel, busybox, a --with program): exit 3
missing()
{
	echo "$prog: $*" >&2
	exit 3
}

out='' kernel='' force=0 demo=0
withs=() hooks=()
while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
	--with) [ $# -ge 2 ] || { usage >&2; exit 2; }; withs+=("$2"); shift ;;
	--hook) [ $# -ge 2 ] || { usage >&2; exit 2; }; hooks+=("$2"); shift ;;
	--kernel) [ $# -ge 2 ] || { usage >&2; exit 2; }; kernel=$2; shift ;;
	--demo) demo=1 ;;
	--force) force=1 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || { usage >&2; exit 2; }
wrtsc_src=$here/guest-tools/wrtsc.c
if [ "$demo" = 1 ]; then
	withs+=(qemu-ga)
	hooks+=("$here/guest-tools/50-demo-workload")
	command -v gcc >/dev/null || missing "--demo: gcc not found (apt-get install build-essential)"
	[ -r "$wrtsc_src" ] || missing "--demo: $wrtsc_src missing"
fi

for tool in cpio gzip modprobe ldd; do
	command -v "$tool" >/dev/null || missing "$tool not found (run scripts/install-deps.sh)"
done

# --- the kernel: a Debian package's, with its modules --------------------
kernel_release()
{
	local base=${1##*/}
	echo "${base#vmlinuz-}"
}

if [ -z "$kernel" ]; then
	for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
		rel=$(kernel_release "$k")
		[ -e "/lib/modules/$rel/modules.dep" ] || continue
		dpkg-query -S "$k" >/dev/null 2>&1 || continue
		kernel=$k
		break
	done
	[ -n "$kernel" ] || missing "no Debian kernel with modules in /boot (apt-get install linux-image-amd64)"
fi
[ -r "$kernel" ] || missing "$kernel: cannot read (absent, or not root: Debian kernels are mode 0600)"
release=$(kernel_release "$kernel")
moddir=/lib/modules/$release
[ -e "$moddir/modules.dep" ] || missing "$moddir/modules.dep: missing for kernel $kernel"

busybox=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
		busybox=$b
		break
	fi
done
[ -n "$busybox" ] || missing "no static busybox (apt-get install busybox-static)"

# --- resolve the inputs ---------------------------------------------------
# Modules in load order, dependencies first, each once.
declare -A seen=()
module_files=()
for m in "${MODULES[@]}"; do
	deps=$(modprobe -S "$release" --show-depends "$m" 2>&1) || die "module $m: $deps"
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue # "builtin NAME" needs nothing
		[ -n "${seen[$path]:-}" ] && continue
		seen[$path]=1
		module_files+=("$path")
	done <<<"$deps"
done

# Programs and the shared libraries they load.
resolve_program()
{
	case $1 in
	qemu-ga) echo /usr/sbin/qemu-ga ;;
	/*) echo "$1" ;;
	*) command -v "$1" || true ;;
	esac
}

programs=()
for w in "${withs[@]}"; do
	p=$(resolve_program "$w")
	[ -n "$p" ] && [ -x "$p" ] || missing "--with $w: program not found (qemu-ga: apt-get install qemu-guest-agent)"
	programs+=("$p")
done

libs=()
for p in "${programs[@]}"; do
	while read -r lib; do
		[ -n "${seen[$lib]:-}" ] && continue
		seen[$lib]=1
		libs+=("$lib")
	done < <(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done

for h in "${hooks[@]}"; do
	[ -r "$h" ] || die "--hook $h: cannot read"
done

# --- cache: skip when every input is as last time -------------------------
self=$(readlink -f "$0")
key=$({
	echo "release $release"
	echo "demo $demo"
	[ "$demo" = 1 ] && sha256sum <"$wrtsc_src"
	for f in "$self" "$kernel" "$busybox" "${module_files[@]}" "${programs[@]}" "${libs[@]}" "${hooks[@]}"; do
		stat -L -c '%n %s %Y' "$f"
	done
	for h in "${hooks[@]}"; do
		sha256sum <"$h"
	done
} | sha256sum | cut -d' ' -f1)

mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ "$force" = 0 ] && [ -s "$out/initrd.img" ] && [ -s "$out/vmlinuz" ] &&
	[ "$(cat "$out/inputs" 2>/dev/null)" = "$key" ]; then
	echo "$prog: $out is up to date (kernel $release)"
	exit 0
fi

# --- stage the root file system -------------------------------------------
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin dev proc sys tmp run var/lib etc/vt-init.d etc/acpi/PWRF root \
	"lib/modules/$release"
ln -s ../run var/run

cp "$busybox" bin/busybox
for applet in $("$busybox" --list); do
	[ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done

# Device nodes the kernel needs before /init mounts devtmpfs.
mknod -m 600 dev/console c 5 1 2>/dev/null || true
mknod -m 666 dev/null c 1 3 2>/dev/null || true

: >etc/vt-modules
for f in "${module_files[@]}"; do
	rel=${f#"$moddir"/}
	dest=lib/modules/$release/${rel%.xz}
	dest=${dest%.zst}
	dest=${dest%.gz}
	mkdir -p "${dest%/*}"
	case $f in
	*.ko.xz) xz -dc "$f" >"$dest" ;;
	*.ko.zst) zstd -q -dc "$f" >"$dest" ;;
	*.ko.gz) gzip -dc "$f" >"$dest" ;;
	*) cp "$f" "$dest" ;;
	esac
	echo "/$dest" >>etc/vt-modules
done

for f in "${programs[@]}" "${libs[@]}"; do
	mkdir -p ".${f%/*}"
	cp -L "$f" ".$f"
done

for h in "${hooks[@]}"; do
	install -m 755 "$h" "etc/vt-init.d/${h##*/}"
done

if [ "$demo" = 1 ]; then
	gcc -static -O2 -o usr/bin/wrtsc "$wrtsc_src" || die "--demo: gcc -static $wrtsc_src failed (libc6-dev?)"
	strip usr/bin/wrtsc 2>/dev/null || true
fi

# Power-off: qemu-ga's guest-shutdown runs /sbin/shutdown -h -P +0 MESSAGE
# (busybox has no shutdown applet); the ACPI power button reaches busybox acpid
# through evdev as event PWRF (action file /etc/acpi/PWRF/00000080).
printf '%s\n' '#!/bin/sh' \
	'# /sbin/shutdown of the example guest: any request powers off (-r reboots)' \
	'sync' \
	'case " $* " in *" -r "*) reboot -f ;; esac' \
	'poweroff -f' >sbin/shutdown
printf '%s\n' '#!/bin/sh' \
	'echo "vt-init: ACPI power button: powering off" >/dev/console' \
	'exec /sbin/shutdown -h -P +0' >etc/acpi/PWRF/00000080
chmod 755 sbin/shutdown etc/acpi/PWRF/00000080

echo "root:x:0:0:root:/root:/bin/sh" >etc/passwd
echo "root:x:0:" >etc/group
echo "$release" >etc/vt-kernel-release

cat >init <<'EOF'
#!/bin/sh
# /init of the virt-trace example guest (examples/build-guest-image.sh)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null ||
	echo "vt-init: tracefs not available"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname vt-guest

while read -r mod; do
	insmod "$mod" || echo "vt-init: insmod $mod failed"
done </etc/vt-modules

# virtio-serial ports show up asynchronously: wait (at most 3 s) until every
# port has its name, then link /dev/virtio-ports/<name> like udev does.
if grep -qx 0x0003 /sys/bus/virtio/devices/*/device 2>/dev/null; then
	i=0
	while [ $i -lt 30 ]; do
		ready=0
		for p in /sys/class/virtio-ports/vport*; do
			[ -s "$p/name" ] && ready=1
		done
		[ $ready = 1 ] && break
		usleep 100000
		i=$((i + 1))
	done
	usleep 100000
fi
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/vport*; do
	[ -s "$p/name" ] || continue
	ln -sf "../${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
done

ga=/dev/virtio-ports/org.qemu.guest_agent.0
if [ -x /usr/sbin/qemu-ga ] && [ -e $ga ]; then
	/usr/sbin/qemu-ga -d -m virtio-serial -p $ga -f /run/qemu-ga.pid ||
		echo "vt-init: qemu-ga failed to start"
fi

# the ACPI power button (virsh shutdown --mode acpi)
acpid -c /etc/acpi -l /run/acpid.log || echo "vt-init: acpid failed to start"

for hook in /etc/vt-init.d/*; do
	[ -x "$hook" ] || continue
	"$hook" || echo "vt-init: $hook exited with status $?"
done

if grep -q 'vt.poweroff=1' /proc/cmdline; then
	poweroff -f
elif ! grep -q 'vt.shell=0' /proc/cmdline; then
	setsid cttyhack sh
	poweroff -f
fi
while :; do sleep 3600; done
EOF
chmod 755 init

find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet | gzip -6 >"$out/initrd.img.tmp"
cp "$kernel" "$out/vmlinuz.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$release" >"$out/kernel-release"
echo "$key" >"$out/inputs"
echo "$prog: built $out (kernel $release, $(du -k "$out/initrd.img" | cut -f1) KiB initramfs," \
	"${#module_files[@]} modules, ${#programs[@]} programs, ${#libs[@]} libraries)"
