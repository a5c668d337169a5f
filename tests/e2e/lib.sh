# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers of the end-to-end tests (sourced, not run): a time limit,
# skip/fail with the reason printed, a work directory, tracefs instances and
# counting events in `trace-cmd report` output.
#
# Environment (set by ctest): VT_BUILD_DIR, VT_SOURCE_DIR.

export PATH=$PATH:/usr/sbin:/sbin
VT_SOURCE_DIR=${VT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VT_BUILD_DIR=${VT_BUILD_DIR:-$VT_SOURCE_DIR/build}
VT_TRACEFS=/sys/kernel/tracing
# scripts/test.sh, sanitized build: the reports of this test's processes go to files
# there, those of detached daemons too (their stderr is /dev/null); scripts/test.sh
# prints them and fails
if [ -n "${VT_SANITIZER_LOG_DIR:-}" ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}:log_path=$VT_SANITIZER_LOG_DIR/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:log_path=$VT_SANITIZER_LOG_DIR/ubsan"
fi
VT_CLI=$VT_BUILD_DIR/core/virt-trace

# vt_lock_held DOMAIN-DIR: a recorder holds the domain's lock (<dir>/.lock);
# tested, never taken (tests/e2e/lock-held.py)
vt_lock_held()
{
	python3 "$VT_SOURCE_DIR/tests/e2e/lock-held.py" "$1/.lock"
}

# vt_lock_wait DOMAIN-DIR SECONDS: until no recorder holds it (1 on time-out)
vt_lock_wait()
{
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		vt_lock_held "$1" || return 0
		sleep 0.1
	done
	return 1
}

# vt_time_limit SECONDS "$@": re-run this script under timeout(1), so that it
# and everything it started (one process group) end after SECONDS.
vt_time_limit()
{
	local secs=$1
	shift
	if [ -z "${VT_E2E_LIMITED:-}" ]; then
		export VT_E2E_LIMITED=$secs
		timeout -k 5 "$secs" bash "$0" "$@"
		local rc=$?
		[ $rc = 124 ] && echo "FAIL: $(basename "$0") took longer than ${secs} s"
		exit $rc
	fi
	VT_T0=$(date +%s%N)
}

vt_elapsed()
{
	echo "$(( ($(date +%s%N) - VT_T0) / 1000000 )) ms"
}

vt_skip()
{
	echo "SKIP: $*"
	exit 77
}

vt_fail()
{
	echo "FAIL: $*"
	exit 1
}

vt_log()
{
	echo "[$(vt_elapsed)] $*"
}

vt_need_root()
{
	[ "$(id -u)" = 0 ] || vt_skip "needs root (tracefs, /dev/kvm, /boot/vmlinuz-*)"
}

vt_need_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || vt_skip "$c not installed (scripts/install-deps.sh)"
	done
}

vt_need_tracefs()
{
	[ -d $VT_TRACEFS/instances ] || vt_skip "tracefs not mounted at $VT_TRACEFS"
}

# A fresh work directory, kept after the run for inspection.
vt_workdir()
{
	VT_WORK=$VT_BUILD_DIR/e2e-work/$1
	[ -d "$VT_BUILD_DIR" ] || VT_WORK=$(mktemp -d "/tmp/vt-e2e-$1.XXXXXX")
	rm -rf "$VT_WORK"
	mkdir -p "$VT_WORK"
	cd "$VT_WORK" || vt_fail "cannot enter $VT_WORK"
}

# vt_cli_or_reason: succeeds when the virt-trace CLI has been built; else
# prints why the CLI part is left out.
vt_have_cli()
{
	if [ -x "$VT_CLI" ]; then
		return 0
	fi
	echo "NOTE: $VT_CLI not built: CLI checks left out"
	return 1
}

# vt_instance_create NAME CLOCK EVENT...: a tracefs instance with only EVENTs
# (system:event) enabled, record-tgid on, tracing on.
vt_instance_create()
{
	local name=$1 clock=$2 ev
	shift 2
	local dir=$VT_TRACEFS/instances/$name
	mkdir "$dir" || vt_fail "cannot create tracefs instance $name"
	echo 0 >"$dir/tracing_on"
	echo "$clock" >"$dir/trace_clock" || vt_fail "instance $name: clock $clock not available"
	echo 1 >"$dir/options/record-tgid"
	for ev in "$@"; do
		[ -e "$dir/events/${ev/://}/enable" ] || vt_skip "tracepoint $ev not available on this kernel"
		echo 1 >"$dir/events/${ev/://}/enable"
	done
	echo 1 >"$dir/tracing_on"
}

# vt_instance_remove NAME: ignore an instance already gone (trace-cmd extract
# -B removes the instances it read).
vt_instance_remove()
{
	local dir=$VT_TRACEFS/instances/$1
	[ -d "$dir" ] || return 0
	echo 0 >"$dir/tracing_on" 2>/dev/null
	rmdir "$dir" 2>/dev/null || echo "warning: could not remove tracefs instance $1"
}

# vt_count_events FILE [PATTERN]: events in `trace-cmd report` output FILE,
# optionally only those whose event name matches PATTERN (an ERE).
vt_count_events()
{
	local pat=${2:-[a-z0-9_]+}
	grep -Ec "\[[0-9]+\] *[0-9.]+: ($pat):" "$1" || true
}
