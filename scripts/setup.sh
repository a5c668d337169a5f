#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install everything and set up the main job: Debian packages, a release build
# installed with prefix /usr (virt-trace in /usr/bin, where AppArmor lets libvirtd
# run it; the hook as /etc/libvirt/hooks/qemu.d/virt-trace), then virtlogd and
# libvirtd running with the hook loaded (a libvirtd that was running before is
# restarted once: it reads the hooks folder when it starts). Then, on a machine
# without VMs of its own (no libvirt domain but demo), examples/demo: a TCG
# guest booted, traced and shut down, its run shown; --no-demo skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=1
for arg in "$@"; do
	case $arg in
	--no-demo) demo=0 ;;
	-h|--help)
		echo "usage: ${0##*/} [--no-demo]   (as root: packages, build, install, libvirtd with the hook, demo)"
		exit 0 ;;
	*) echo "usage: ${0##*/} [--no-demo]" >&2; exit 2 ;;
	esac
done

bash scripts/install-deps.sh
bash scripts/build.sh

libvirtd_pid()
{
	local pid
	pid=$(cat /run/libvirtd.pid 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
had_hook=0
[ -x /etc/libvirt/hooks/qemu.d/virt-trace ] && had_hook=1
was_running=$(libvirtd_pid || true)

cmake --install build --prefix /usr >/dev/null
[ -x /etc/libvirt/hooks/qemu.d/virt-trace ] ||
	{ echo "setup.sh: the hook was not installed in /etc/libvirt/hooks/qemu.d" >&2; exit 1; }

if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
	# a machine with systemd: its units
	systemctl enable --now virtlogd.socket >/dev/null 2>&1 || true
	if [ "$had_hook" = 0 ]; then
		systemctl restart libvirtd
	else
		systemctl start libvirtd
	fi
else
	pgrep -x virtlogd >/dev/null || virtlogd -d
	if [ -n "$was_running" ] && [ "$had_hook" = 0 ]; then
		echo "setup.sh: restarting libvirtd (pid $was_running) to load the hook"
		kill -TERM "$was_running"
		for _ in $(seq 100); do
			kill -0 "$was_running" 2>/dev/null || break
			sleep 0.1
		done
	fi
	libvirtd_pid >/dev/null || libvirtd -d
fi
# until it answers (30 s at most)
for _ in $(seq 60); do
	timeout 10 virsh -c qemu:///system version >/dev/null 2>&1 && break
	sleep 0.5
done
if timeout 10 virsh -c qemu:///system version >/dev/null 2>&1; then
	echo "setup.sh: virt-trace installed; libvirtd runs with the hook: every domain you start is traced"
else
	echo "setup.sh: warning: libvirtd does not answer; the libvirt tests will skip" >&2
	demo=0
fi

# The demo, unless this machine has VMs of its own (or --no-demo).
if [ "$demo" = 1 ]; then
	others=$(timeout 30 virsh -q -c qemu:///system list --all --name 2>/dev/null | grep -vx -e demo -e '' || true)
	if [ -n "$others" ]; then
		echo "setup.sh: this machine has libvirt domains of its own ($(echo $others | tr ' ' ',')): no demo (run examples/demo to see one)"
	else
		echo "setup.sh: running examples/demo (--no-demo skips it)"
		# the install stands either way; tests/e2e/test-agent-demo.sh fails on a broken demo
		examples/demo || echo "setup.sh: warning: the demo failed (see above); virt-trace is installed" >&2
	fi
fi
