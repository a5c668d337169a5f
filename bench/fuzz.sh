#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Longer fuzz runs (not part of the test suite; CI runs each harness for
# VT_FUZZ_SECONDS): every harness of tests/fuzz in turn, one core, for --time seconds,
# from the seeds and the corpus kept in BUILD/tests/fuzz/work/<harness>/ (which grows
# from run to run). Prints per harness: execs, execs/s, corpus size and crashes (an
# input that crashes, leaks or times out stops that harness and is kept in
# work/<harness>/artifacts/). A new random seed each run ($VT_FUZZ_SEED to repeat one).
# Exit status 1 when any harness found something.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-asan}
secs=600
names=()

usage()
{
	cat <<USAGE
usage: ${0##*/} [--build DIR] [--time SECONDS] [HARNESS...]

  --build DIR     a VT_FUZZ build (default: build-asan/, scripts/build.sh --asan)
  --time SECONDS  per harness (default 600)
  HARNESS         chunk page dat format config domxml qga guest-info (default: all)
USAGE
}

while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--time) secs=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) names+=("$1") ;;
	esac
	shift
done
[ ${#names[@]} -gt 0 ] || names=(chunk page dat format config domxml qga guest-info)
fz=$build/tests/fuzz
[ -x "$fz/fuzz-seed" ] || { echo "${0##*/}: no fuzz build in $build (scripts/build.sh --asan)" >&2; exit 1; }
[ -d "$fz/seeds" ] || bash "$root/tests/fuzz/seeds.sh" "$build" "$fz/seeds" >/dev/null

printf '%-11s %12s %9s %8s %8s\n' harness execs exec/s corpus crashes
status=0
for n in "${names[@]}"; do
	out=$(VT_FUZZ_SECONDS=$secs VT_FUZZ_SEED=${VT_FUZZ_SEED:-0} bash "$root/tests/fuzz/run.sh" "$fz/fuzz-$n" "$n" "$fz/seeds/$n" \
		"$root/tests/fuzz/regress/$n" "$fz/work/$n" 2>&1)
	rc=$?
	log=$fz/work/$n/fuzz.log
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
	rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -1)
	corpus=$(find "$fz/work/$n/corpus" -type f | wc -l)
	crashes=0
	if [ $rc -ne 0 ]; then
		crashes=1
		status=1
	fi
	printf '%-11s %12s %9s %8s %8s\n' "$n" "${execs:-0}" "${rate:-0}" "$corpus" "$crashes"
	[ $rc -eq 0 ] || printf '%s\n' "$out" | tail -n 30 | sed 's/^/    /'
done
exit $status
