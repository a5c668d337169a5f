#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One fuzz test: replay every input kept in REGRESS_DIR (each must pass), then fuzz for
# $VT_FUZZ_SECONDS (default: the build's VT_FUZZ_SECONDS) from the seeds and the corpus
# kept in WORK_DIR. Fails on any crash, leak, timeout (10 s per input) or RSS over 2 GiB;
# the input that did it is left in WORK_DIR/artifacts/. The mutations follow
# $VT_FUZZ_SEED (default 1: a CI run repeats the last one; 0 = a new seed each run).
# Prints one summary line.
# usage: run.sh HARNESS NAME SEEDS_DIR REGRESS_DIR WORK_DIR [LIBFUZZER-ARGS...]
set -uo pipefail

[ $# -ge 5 ] || { echo "usage: ${0##*/} HARNESS NAME SEEDS_DIR REGRESS_DIR WORK_DIR [ARGS...]" >&2; exit 2; }
bin=$1 name=$2 seeds=$3 regress=$4 work=$5
shift 5
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${VT_FUZZ_SECONDS:-${VT_FUZZ_SECONDS_DEFAULT:-30}}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mkdir -p "$work/corpus" "$work/artifacts"
common=(-timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1
	-artifact_prefix="$work/artifacts/")

# 1. the inputs that once broke a parser
inputs=()
if [ -d "$regress" ]; then
	while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$regress" -maxdepth 1 -type f ! -name '*.md' -print0 | sort -z)
fi
if [ ${#inputs[@]} -gt 0 ]; then
	if ! "$bin" "${common[@]}" "${inputs[@]}" >"$work/regress.log" 2>&1; then
		cat "$work/regress.log"
		echo "fuzz $name: a regression input fails (above)"
		exit 1
	fi
fi

# 2. fuzz for a bounded time
seed_dirs=()
[ -d "$seeds" ] && seed_dirs+=("$seeds")
log=$work/fuzz.log
"$bin" "${common[@]}" -max_total_time="$secs" -seed="${VT_FUZZ_SEED:-1}" -print_final_stats=1 "$@" \
	"$work/corpus" "${seed_dirs[@]}" >"$log" 2>&1
rc=$?
fuzz_stat() { sed -nE "s/^stat::$1: *([0-9]+).*/\\1/p" "$log" | tail -1; }
execs=$(fuzz_stat number_of_executed_units)
rate=$(fuzz_stat average_exec_per_sec)
corpus=$(find "$work/corpus" -type f | wc -l)
if [ $rc -ne 0 ]; then
	tail -n 80 "$log"
	echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} execs; input kept in $work/artifacts/:"
	ls -1 "$work/artifacts/"
	exit 1
fi
echo "fuzz $name: ${#inputs[@]} regression inputs ok; ${execs:-0} execs in ${secs} s (${rate:-0}/s), corpus $corpus, 0 crashes"
