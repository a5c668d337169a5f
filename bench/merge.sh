#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark (not part of the test suite): merge+convert and report of a large
# synthetic host/guest pair against `trace-cmd report` of the same files
# (DESIGN.md §6: at least 10x faster), and peak memory at 2M and 20M events
# (flat in trace size: streaming k-way merge).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
events=20000000
small=2000000
work=
regen=0

usage()
{
	cat <<EOF
usage: ${0##*/} [--build DIR] [--events N] [--small N] [--work DIR] [--regen]

  --build DIR   build directory with core/virt-trace and tests/vt-gen (default: build/)
  --events N    events of the large pair (default 20000000)
  --small N     events of the small pair for the memory check (default 2000000)
  --work DIR    where the pairs and outputs go (default: BUILD/bench-work; ~GBs)
  --regen       regenerate the pairs even if they exist
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--events) events=$2; shift ;;
	--small) small=$2; shift ;;
	--work) work=$2; shift ;;
	--regen) regen=1 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
work=${work:-$build/bench-work}
gen=$build/tests/vt-gen
cli=$build/core/virt-trace

die()
{
	echo "${0##*/}: $*" >&2
	exit 1
}
[ -x "$gen" ] || die "$gen not built (scripts/build.sh)"
[ -x "$cli" ] || die "$cli not built (scripts/build.sh)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"
command -v trace-cmd >/dev/null || die "trace-cmd missing (apt-get install trace-cmd)"
mkdir -p "$work"

# timed NAME CMD...: runs CMD with stdout to /dev/null; sets WALL (s) and RSS (MiB)
timed()
{
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err" ||
		{ cat "$work/$name.err" >&2; die "$name failed: $*"; }
	t1=$(date +%s%N)
	WALL=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
	RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$work/$name.time")
}

# pair N DIR: generate a pair of N events into DIR (kept between runs)
pair()
{
	local n=$1 dir=$2 stamp
	stamp="$n $(stat -c %Y "$gen")"
	if [ $regen = 0 ] && [ -s "$dir/host.dat" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
		echo "pair of $n events: reusing $dir"
		return
	fi
	rm -rf "$dir"
	timed "gen-$n" "$gen" pair -o "$dir" --events "$n" --no-expect
	echo "$stamp" >"$dir/.stamp"
	echo "pair of $n events generated in $WALL s ($(du -sh "$dir" | cut -f1))"
}

# merge_run N DIR OUT: sets M_WALL, M_RSS
merge_run()
{
	rm -rf "$3"
	timed "merge-$1" "$cli" merge --host "$2/host.dat" --guest "$2/guest.dat" -o "$3"
	M_WALL=$WALL M_RSS=$RSS
}

pair "$events" "$work/pair-$events"
merge_run "$events" "$work/pair-$events" "$work/out-$events"
L_RSS=$M_RSS L_WALL=$M_WALL
out=$work/out-$events
total=$(python3 - "$out/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(m['host']['events'] + sum(g['events'] for g in m.get('guests', [])))
EOF
)
timed report "$cli" report "$out"
R_WALL=$WALL R_RSS=$RSS
timed trace-cmd trace-cmd report -i "$out/host.dat" -i "$out/guest.dat"
T_WALL=$WALL T_RSS=$RSS

pair "$small" "$work/pair-$small"
merge_run "$small" "$work/pair-$small" "$work/out-$small"
S_RSS=$M_RSS

rate()
{
	awk -v n="$total" -v s="$1" 'BEGIN { printf "%12.0f", (s > 0 ? n / s : 0) }'
}
ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'
}

echo
echo "events in the merged pair: $total (vt-gen --events $events)"
printf '%-36s %9s %12s %14s\n' step "wall s" "events/s" "peak RSS MiB"
printf '%-36s %9s %s %14s\n' "virt-trace merge (merge+convert)" "$L_WALL" "$(rate "$L_WALL")" "$L_RSS"
printf '%-36s %9s %s %14s\n' "virt-trace report >/dev/null" "$R_WALL" "$(rate "$R_WALL")" "$R_RSS"
printf '%-36s %9s %s %14s\n' "trace-cmd report -i host -i guest" "$T_WALL" "$(rate "$T_WALL")" "$T_RSS"
echo
echo "speed-up of merge+convert over trace-cmd report: $(ratio "$T_WALL" "$L_WALL")x (goal: >= 10x)"
echo "speed-up of virt-trace report over trace-cmd report: $(ratio "$T_WALL" "$R_WALL")x"
echo "merge peak RSS: $S_RSS MiB at $small events, $L_RSS MiB at $events events" \
	"(ratio $(ratio "$L_RSS" "$S_RSS"); flat means close to 1)"
