# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers of the libvirt end-to-end tests (sourced after lib.sh): the reasons to
# skip, throw-away KVM domains (direct kernel boot, no disk) that are always
# undefined at exit, and waiting for a domain's run to become final.
#
# These tests drive the *installed* virt-trace (/usr/bin) and hook
# (/etc/libvirt/hooks/qemu.d/virt-trace), as libvirtd runs them; they run for the
# build directory whose binary is the installed one (.ci/run installs build/).

VT_HOOK=/etc/libvirt/hooks/qemu.d/virt-trace
VT_CLI=/usr/bin/virt-trace
VT_STORE=/var/lib/virt-trace
VT_VIRSH=(timeout 30 virsh -q -c qemu:///system)
VT_DOMAINS=()
VT_CONSOLES=()

virsh_() { "${VT_VIRSH[@]}" "$@"; }

# vt_need_libvirt: skip (exit 77, reason printed) unless everything is there
vt_need_libvirt()
{
	vt_need_root
	vt_need_cmd virsh trace-cmd python3 cmp
	vt_need_tracefs
	[ -c /dev/kvm ] && [ -w /dev/kvm ] || vt_skip "/dev/kvm missing or not writable"
	[ -d $VT_TRACEFS/events/kvm/kvm_write_tsc_offset ] ||
		vt_skip "no kvm:kvm_write_tsc_offset tracepoint (kvm module not loaded?)"
	vt_need_libvirt_tcg
}

# vt_need_libvirt_tcg: the same for TCG domains (type='qemu'), which need no /dev/kvm
vt_need_libvirt_tcg()
{
	vt_need_root
	vt_need_cmd virsh trace-cmd python3 cmp
	vt_need_tracefs
	timeout 10 virsh -c qemu:///system version >/dev/null 2>&1 ||
		vt_skip "libvirtd is not running (qemu:///system does not answer; .ci/run starts it)"
	[ -x "$VT_HOOK" ] || vt_skip "hook not installed at $VT_HOOK (cmake --install build --prefix /usr)"
	[ -x "$VT_CLI" ] || vt_skip "$VT_CLI not installed (cmake --install build --prefix /usr)"
	[ -x "$VT_BUILD_DIR/core/virt-trace" ] || vt_skip "$VT_BUILD_DIR/core/virt-trace not built"
	cmp -s "$VT_BUILD_DIR/core/virt-trace" "$VT_CLI" ||
		vt_skip "the installed $VT_CLI is not this build's ($VT_BUILD_DIR); the libvirt tests run once, for the installed build"
	VT_KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
	[ -n "$VT_KERNEL" ] || vt_skip "no /boot/vmlinuz-* for direct kernel boot (linux-image-amd64)"
}

# vt_domain_define NAME [VCPUS] [OPTION VALUE]...: a domain booting the host's
# Debian kernel directly (no disk, no network); the guest need not get far.
# Options: --type kvm|qemu (kvm), --memory MIB (128), --metadata XML (inside
# <metadata>, none), --cmdline TEXT (console=ttyS0 panic=0), --on-reboot and
# --on-crash ACTION (restart, preserve).
vt_domain_define()
{
	local name=$1 vcpus=2 type=kvm mem=128 meta='' cmdline='console=ttyS0 panic=0'
	local on_reboot=restart on_crash=preserve
	shift
	case ${1:-} in [0-9]*) vcpus=$1; shift ;; esac
	while [ $# -gt 1 ]; do
		case $1 in
		--type) type=$2 ;;
		--memory) mem=$2 ;;
		--metadata) meta="
  <metadata>
    $2
  </metadata>" ;;
		--cmdline) cmdline=$2 ;;
		--on-reboot) on_reboot=$2 ;;
		--on-crash) on_crash=$2 ;;
		*) vt_fail "vt_domain_define: unknown option $1" ;;
		esac
		shift 2
	done
	[ $# = 0 ] || vt_fail "vt_domain_define: option $1 without a value"
	VT_DOMAINS+=("$name")
	cat >"$VT_WORK/$name.xml" <<XML
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>$vcpus</vcpu>$meta
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VT_KERNEL</kernel>
    <cmdline>$cmdline</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>$on_reboot</on_reboot>
  <on_crash>$on_crash</on_crash>
  <devices>
    <memballoon model='none'/>
  </devices>
</domain>
XML
	virsh_ define "$VT_WORK/$name.xml" >/dev/null || vt_fail "virsh define $name failed"
}

# vt_demo_image: the demo guest image (examples/build-guest-image.sh --demo,
# cached in $VT_DEMO_IMAGE_DIR, default /var/cache/virt-trace/demo-image) into
# $image; skips when this machine lacks one of its inputs. Log: image.log.
vt_demo_image()
{
	local rc
	image=${VT_DEMO_IMAGE_DIR:-/var/cache/virt-trace/demo-image}
	"$VT_SOURCE_DIR/examples/build-guest-image.sh" -o "$image" --demo >image.log 2>&1
	rc=$?
	[ $rc = 3 ] && vt_skip "no demo guest image: $(tail -1 image.log)"
	[ $rc = 0 ] || { cat image.log; vt_fail "examples/build-guest-image.sh -o $image --demo failed"; }
}

# vt_demo_domain NAME [SED-ARG]...: examples/demo-domain.xml under NAME with the
# image of vt_demo_image, further edited by the sed arguments, into
# $VT_WORK/NAME.xml and defined. Its serial console, empty, is $console;
# vt_domains_cleanup keeps a copy of it in $VT_WORK and removes it.
vt_demo_domain()
{
	local name=$1
	shift
	console=/var/log/libvirt/qemu/$name-console.log
	sed -e "s|@NAME@|$name|g" -e "s|@KERNEL@|$image/vmlinuz|g" -e "s|@INITRD@|$image/initrd.img|g" \
		-e "s|@CONSOLE@|$console|g" "$@" "$VT_SOURCE_DIR/examples/demo-domain.xml" \
		>"$VT_WORK/$name.xml" || vt_fail "cannot write $VT_WORK/$name.xml"
	VT_DOMAINS+=("$name")
	VT_CONSOLES+=("$console")
	mkdir -p "${console%/*}" && : >"$console"
	virsh_ define "$VT_WORK/$name.xml" >/dev/null || vt_fail "virsh define $name failed"
}

# vt_qemu_threads NAME FILE: "tid comm" of the domain's QEMU threads, and its pid
vt_qemu_threads()
{
	local pid t
	pid=$(cat "/run/libvirt/qemu/$1.pid" 2>/dev/null) || vt_fail "$1: no pid file"
	for t in /proc/"$pid"/task/*; do
		echo "${t##*/} $(cat "$t/comm" 2>/dev/null)"
	done >"$2"
	echo "$pid"
}

# vt_domains_cleanup: destroy and undefine every domain this test defined, and
# remove what the store keeps of them; their consoles (VT_CONSOLES) are copied
# into $VT_WORK and removed
vt_domains_cleanup()
{
	local d esc c
	for d in "${VT_DOMAINS[@]}"; do
		virsh_ destroy "$d" >/dev/null 2>&1
		virsh_ undefine "$d" >/dev/null 2>&1
	done
	for c in "${VT_CONSOLES[@]}"; do
		cp "$c" "${VT_WORK:-.}/${c##*/}" 2>/dev/null
		rm -f "$c"
	done
	for d in "${VT_DOMAINS[@]}"; do
		# a recorder still finalizing: give it a moment, then the run goes
		vt_wait_final "$d" 20 >/dev/null 2>&1
		esc=$d # the test names need no escaping
		[ -n "${VT_KEEP_RUNS:-}" ] || rm -rf "${VT_STORE:?}/$esc"
		rmdir "$VT_TRACEFS/instances/virt-trace-$esc" "$VT_TRACEFS/instances/virt-trace-$esc-tsc" 2>/dev/null
	done
	return 0
}

# vt_latest_state DOMAIN: state of the domain's latest run ("" when none)
vt_latest_state()
{
	"$VT_CLI" list "$1" 2>/dev/null | awk 'NR > 1 { s = $3 } END { print s }'
}

# vt_wait_final DOMAIN SECS: until the latest run is complete/incomplete/failed
# and no recorder holds it; prints the state
vt_wait_final()
{
	local s i
	# a domain that never had a run has nothing to wait for
	[ -d "$VT_STORE/$1" ] || { echo none; return 1; }
	for ((i = 0; i < $2 * 10; i++)); do
		s=$(vt_latest_state "$1")
		case $s in
		complete | incomplete | failed)
			if ! "$VT_CLI" status 2>/dev/null | awk '{print $1}' | grep -qxF "$1"; then
				echo "$s"
				return 0
			fi ;;
		esac
		sleep 0.1
	done
	echo "${s:-none}"
	return 1
}

# vt_wait_recording DOMAIN SECS: until the domain's latest run is recording
vt_wait_recording()
{
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(vt_latest_state "$1")" = recording ] && return 0
		sleep 0.1
	done
	return 1
}

# vt_check_offsets DOMAIN THREADS-FILE QEMU-PID: the latest run's manifest offsets
# equal the kvm_write_tsc_offset events of QEMU's vCPU threads in host.dat
vt_check_offsets()
{
	local dir
	dir=$("$VT_CLI" path "$1") || vt_fail "$1: virt-trace path failed"
	trace-cmd report --raw-ts -i "$dir/host.dat" >"$VT_WORK/$1.report" 2>"$VT_WORK/$1.report.err" ||
		vt_fail "$1: trace-cmd report cannot read $dir/host.dat: $(head -3 "$VT_WORK/$1.report.err")"
	python3 "$VT_SOURCE_DIR/tests/e2e/libvirt-offsets.py" "$dir/manifest.json" \
		"$VT_WORK/$1.report" "$2" "$3" || vt_fail "$1: manifest offsets differ from host.dat"
}
