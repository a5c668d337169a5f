#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install every build and test dependency of virt-trace from Debian's archive
# (non-interactive, idempotent: nothing is fetched when all is present), then
# make sure tracefs and debugfs are mounted.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config
	libtracefs-dev libtraceevent-dev libtracecmd-dev trace-cmd
	libvirt-dev libjson-c-dev libcmocka-dev libxml2-dev libarchive-dev libzstd-dev libssl-dev
	clang libclang-rt-14-dev
	qemu-system-x86 qemu-guest-agent libvirt-daemon-system libvirt-clients
	linux-image-amd64 busybox-static cpio kmod xz-utils zstd
	python3 jq time
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (try: sudo $0)" >&2
	exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The Debian kernel is only a guest kernel for the tests when the running
	# kernel is not one of Debian's: skip building its (unused) initramfs then.
	[ -e "/boot/vmlinuz-$(uname -r)" ] || export INITRD=No
	apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
		-o Dpkg::Use-Pty=0 --no-install-recommends)
	# Refresh the lists once if the candidates are unknown (fresh machine) or
	# an install fails because the lists are stale.
	if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
		apt-get update -q
		apt-get install "${apt_opts[@]}" "${missing[@]}"
	fi
else
	echo "install-deps.sh: all ${#PACKAGES[@]} packages present"
fi

# tracefs and debugfs (KVM's per-vCPU tsc-offset files live in debugfs)
if [ ! -e /sys/kernel/tracing/trace ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
		echo "install-deps.sh: warning: cannot mount tracefs on /sys/kernel/tracing" >&2
fi
if ! mountpoint -q /sys/kernel/debug; then
	mount -t debugfs nodev /sys/kernel/debug 2>/dev/null ||
		echo "install-deps.sh: warning: cannot mount debugfs on /sys/kernel/debug" >&2
fi
exit 0
