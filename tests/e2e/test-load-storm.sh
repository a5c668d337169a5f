#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real libvirtd, installed hook: bench/storm.sh shortened for CI — 10 tiny KVM
# domains (TCG when /dev/kvm is missing) started and destroyed over and over for
# $VT_STORM_SECONDS (default 90). Fails on a lost or non-final archive, a tracefs
# instance, recorder or hook worker left, libvirtd fd growth, or a hook op whose
# p99 after the first round is over 10x its budget; the hook latencies are
# printed as figures.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
type=kvm
[ -c /dev/kvm ] && [ -w /dev/kvm ] || type=qemu
exec bash "$here/../../bench/storm.sh" -n 10 -t "${VT_STORM_SECONDS:-90}" --type "$type" --hold 3
