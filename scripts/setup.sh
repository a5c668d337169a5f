#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install everything and set up the main job: Debian packages, a release build
# installed with prefix /usr (virt-trace in /usr/bin, where AppArmor lets libvirtd
# run it; the hook as /etc/libvirt/hooks/qemu.d/virt-trace), then virtlogd and
# libvirtd running with the hook loaded (a libvirtd that was running before is
# restarted once: it reads the hooks folder when it starts).
set -euo pipefail
cd "$(dirname "$0")/.."

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
fi
