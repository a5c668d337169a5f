#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test command: (re)build, then run ctest in build/ and, unless --no-asan,
# in build-asan/ (clang, ASan + UBSan). Prints why tests were skipped, closes
# with one "N passed, N failed, N skipped" line, exits non-zero on a failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
asan=${VT_TEST_ASAN:-1}
build=1
ctest_args=()

usage()
{
	cat <<USAGE
usage: ${0##*/} [--no-asan] [--no-build] [-- CTEST-ARGS...]

  --no-asan   only build/ (also: VT_TEST_ASAN=0)
  --no-build  test the build directories as they are (default: scripts/build.sh first)
  CTEST-ARGS  passed to ctest, e.g. -L unit, -R tsc, -V
USAGE
}

while [ $# -gt 0 ]; do
	case $1 in
	--no-asan) asan=0 ;;
	--no-build) build=0 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; ctest_args=("$@"); break ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

dirs=(build)
[ "$asan" = 1 ] && dirs+=(build-asan)

# One guest image for both build directories (examples/build-guest-image.sh caches it).
export VT_GUEST_IMAGE_DIR=${VT_GUEST_IMAGE_DIR:-$root/build/guest-image}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# skip_reasons CTEST-OUTPUT LASTTEST-LOG: "name: reason" for each skipped test,
# the reason being the test's last "SKIP: " line
skip_reasons()
{
	local name
	for name in $(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*\*\*\*Skipped .*/\1/p' "$1"); do
		awk -v name="$name" '
		/^[0-9]+\/[0-9]+ Test: / { cur = $3 }
		cur == name && /^SKIP: / { why = substr($0, 7) }
		END { print "  " name ": " (why == "" ? "(no reason printed)" : why) }
		' "$2"
	done
}

passed=0 failed=0 skipped=0 status=0
for d in "${dirs[@]}"; do
	flags=()
	[ "$d" = build-asan ] && flags=(--asan)
	if [ $build = 1 ] && ! "$root/scripts/build.sh" "${flags[@]}"; then
		echo "test.sh: build of $d failed"
		status=1
		failed=$((failed + 1))
		continue
	fi
	if [ ! -f "$root/$d/CTestTestfile.cmake" ]; then
		echo "test.sh: $root/$d is not configured (run scripts/build.sh ${flags[*]}; --no-asan to leave it out)"
		status=1
		failed=$((failed + 1))
		continue
	fi
	echo "=== ctest in $d ==="
	log=$(mktemp)
	san=
	if [ "$d" = build-asan ]; then
		# where the e2e tests' processes write their sanitizer reports (lib.sh)
		san=$root/$d/sanitizer
		rm -rf "$san" && mkdir -p "$san" && chmod 1777 "$san"
	fi
	(cd "$root/$d" && VT_SANITIZER_LOG_DIR=$san ctest --output-on-failure --no-tests=error \
		--timeout 300 "${ctest_args[@]}") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || status=1
	if [ -n "$san" ] && [ -n "$(ls -A "$san")" ]; then
		for f in "$san"/*; do
			echo "--- sanitizer report $f:"
			head -n 40 "$f"
		done
		echo "test.sh: sanitizer reports of the e2e tests' processes in $san (above)"
		status=1
		failed=$((failed + 1))
	fi
	p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed ' "$log")
	s=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped ' "$log")
	all=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$log")
	f=$((all - p - s))
	[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1 # ctest itself failed (no tests, bad args)
	passed=$((passed + p)) skipped=$((skipped + s)) failed=$((failed + f))
	if [ "$s" -gt 0 ] && [ -f "$root/$d/Testing/Temporary/LastTest.log" ]; then
		echo "Skipped in $d:"
		skip_reasons "$log" "$root/$d/Testing/Temporary/LastTest.log"
	fi
	rm -f "$log"
done

echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
