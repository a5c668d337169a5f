#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Make the seed corpus of every fuzz harness under OUT_DIR/<harness>/ from real files:
# trace.dat files written by vt-gen (v6, v7, every scenario) and rewritten by trace-cmd
# convert (zstd), their pages and chunks, this kernel's format files, the agent's own
# info output, qemu-ga reply series, the examples, and the text seeds of corpus/.
# usage: seeds.sh BUILD_DIR OUT_DIR
set -euo pipefail

build=$1 out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
seed=$build/tests/fuzz/fuzz-seed
gen=$build/tests/vt-gen
agent=$build/agent/virt-trace-agent
tracing=/sys/kernel/tracing

rm -rf "$out"
mkdir -p "$out"/{chunk,page,dat,format,config,domxml,qga,guest-info}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# trace.dat: small files of every vt-gen scenario, v7 and v6; trace-cmd's zstd v7
for sc in $("$gen" list | awk '{print $1}'); do
	"$gen" pair -o "$tmp/$sc" --scenario "$sc" --events 24 --vcpus 2 --no-expect 2>/dev/null
	for f in "$tmp/$sc"/*.dat; do cp "$f" "$out/dat/$sc-$(basename "$f")"; done
done
"$gen" pair -o "$tmp/v6" --events 24 --file-version 6 --no-expect 2>/dev/null
for f in "$tmp/v6"/*.dat; do cp "$f" "$out/dat/v6-$(basename "$f")"; done
if command -v trace-cmd >/dev/null; then
	for f in "$tmp/boot/host.dat" "$tmp/boot/guest.dat" "$tmp/v6/host.dat"; do
		n=$(basename "$(dirname "$f")")-$(basename "$f" .dat)
		trace-cmd convert -i "$f" -o "$out/dat/$n-zstd.dat" --file-version 7 \
			--compression zstd >/dev/null 2>&1 || rm -f "$out/dat/$n-zstd.dat"
		trace-cmd convert -i "$f" -o "$out/dat/$n-tc6.dat" --file-version 6 \
			>/dev/null 2>&1 || rm -f "$out/dat/$n-tc6.dat"
	done
fi

# pages and chunks cut from those files
for f in "$tmp/boot/host.dat" "$tmp/boot/guest.dat" "$tmp/forward/guest.dat"; do
	"$seed" pages "$f" "$out/page"
done
"$seed" chunk "$tmp/boot/guest.dat" "$out/chunk/guest.chunk"
"$seed" chunk "$tmp/two-vcpus/guest.dat" "$out/chunk/two-vcpus.chunk"
"$seed" chunk "$tmp/boot/host.dat" "$out/chunk/host.chunk"

# event formats: this kernel's (when tracefs can be read), else the fixtures'
n=0
if [ -r $tracing/events/header_page ]; then
	for f in $tracing/events/{ftrace,sched,irq,kvm,msr,timer,workqueue,signal}/*/format; do
		[ -r "$f" ] || continue
		ev=$(basename "$(dirname "$f")")
		"$seed" format "$f" "$out/format/$(basename "$(dirname "$(dirname "$f")")")-$ev" && n=$((n + 1))
	done
fi
[ $n -gt 0 ] || "$seed" formats "$out/format"

# the agent's info, as it answers on this host (read-only: no instance is made)
info=$tmp/info.json
if [ -x "$agent" ] && "$agent" info --events sched:sched_switch,irq:irq_handler_entry,msr:write_msr \
	--out "$info" >/dev/null 2>&1; then
	"$seed" guest "$info" "$out/guest-info/agent-info"
	"$seed" qga "$info" "$tmp/boot/guest.dat" "$out/qga"
else
	echo "seeds.sh: virt-trace-agent info failed: guest seeds from corpus/ only" >&2
	"$seed" qga "$src/tests/fuzz/corpus/guest-info/minimal.json" "$tmp/boot/guest.dat" "$out/qga"
fi

# text seeds
cp "$src/examples/virt-trace.conf" "$out/config/example.conf"
cp "$src/examples/demo-domain.xml" "$out/domxml/demo-domain.xml"
for d in config domxml guest-info qga; do
	[ -d "$src/tests/fuzz/corpus/$d" ] && cp "$src/tests/fuzz/corpus/$d"/* "$out/$d/"
done
for d in "$out"/*/; do
	echo "seeds.sh: $(basename "$d"): $(find "$d" -type f | wc -l) seeds"
done
