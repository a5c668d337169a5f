# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers of the fault tests (sourced after libvirt.sh): the recorder of a domain,
# a snapshot of what its spool holds just before a fault, and the checks every
# fault test makes once the run is final: each page spooled before the fault is in
# host.dat, trace-cmd reads host.dat, no tracefs instance and no recorder is left;
# and libvirtd restarted under the running domains.

VT_PAGES=$VT_SOURCE_DIR/tests/e2e/spool-pages.py

# vt_recorder_pids DOMAIN: pids of the domain's `virt-trace record` processes
vt_recorder_pids()
{
	pgrep -f "virt-trace record --domain $1( |\$)" || true
}

# vt_manifest DOMAIN [RUN] EXPR: a python expression over the manifest `m`
vt_manifest()
{
	local dom=$1 run=$2 expr=$3 dir
	dir=$("$VT_CLI" path "$dom" $run) || return 1
	python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$dir/manifest.json" "$expr"
}

# vt_spool_snapshot DOMAIN OUT: hashes of the pages the latest run's spool holds
vt_spool_snapshot()
{
	local dir
	dir=$("$VT_CLI" path "$1") || vt_fail "$1: no run"
	[ -d "$dir/spool" ] || vt_fail "$1: run $dir has no spool"
	python3 "$VT_PAGES" snapshot "$dir/spool" "$2" || vt_fail "$1: cannot read the spool"
}

# vt_wait_spool_pages DOMAIN MIN SECS: until the latest run's spool holds MIN pages
vt_wait_spool_pages()
{
	local dir i n
	dir=$("$VT_CLI" path "$1") || return 1
	for ((i = 0; i < $3 * 10; i++)); do
		n=$(cat "$dir"/spool/main/cpu*.raw "$dir"/spool/tsc/cpu*.raw 2>/dev/null | wc -c)
		[ $((n / 4096)) -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# vt_check_kept DOMAIN RUN SNAPSHOT: every snapshot page is in the run's host.dat
# and trace-cmd reads it
vt_check_kept()
{
	local dir
	dir=$("$VT_CLI" path "$1" "$2") || vt_fail "$1: no run $2"
	[ -f "$dir/host.dat" ] || vt_fail "$1/$2: no host.dat"
	python3 "$VT_PAGES" check "$dir/host.dat" "$3" >"$3.check" ||
		vt_fail "$1/$2: pages spooled before the fault are missing: $(cat "$3.check")"
	vt_log "$1/$2: $(cat "$3.check")"
	trace-cmd report -i "$dir/host.dat" >"$3.report" 2>"$3.report.err" ||
		vt_fail "$1/$2: trace-cmd cannot read host.dat: $(head -3 "$3.report.err")"
	vt_log "$1/$2: trace-cmd reads host.dat: $(vt_count_events "$3.report") events"
}

# vt_check_clean DOMAIN SECS: within SECS no instance and no recorder of DOMAIN left
vt_check_clean()
{
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -d "$VT_TRACEFS/instances/virt-trace-$1" ] || [ -d "$VT_TRACEFS/instances/virt-trace-$1-tsc" ] ||
			[ -n "$(vt_recorder_pids "$1")" ] || return 0
		sleep 0.1
	done
	ls -d "$VT_TRACEFS"/instances/virt-trace-"$1"* 2>/dev/null
	vt_fail "$1: left behind: instances $(ls "$VT_TRACEFS/instances" | grep -c "^virt-trace-$1"), recorders '$(vt_recorder_pids "$1" | tr '\n' ' ')'"
}

# vt_check_state DOMAIN RUN STATE REASON-ERE: manifest state and reason, and `show`
vt_check_state()
{
	local st why
	st=$(vt_manifest "$1" "$2" 'm.get("state")')
	why=$(vt_manifest "$1" "$2" 'm.get("state_reason", "")')
	[ "$st" = "$3" ] || vt_fail "$1/$2: state $st, expected $3 ($why)"
	grep -Eq "$4" <<<"$why" || vt_fail "$1/$2: reason '$why' does not match /$4/"
	"$VT_CLI" show "$1" $2 >"$VT_WORK/show.txt" || vt_fail "$1: virt-trace show failed"
	if [ -z "$why" ]; then
		grep -Eq "^state: +$3\$" "$VT_WORK/show.txt"
	else
		grep '^state:' "$VT_WORK/show.txt" | grep -qF "$3 ($why)"
	fi ||
		vt_fail "$1/$2: show does not say '$3 ($why)': $(grep '^state' "$VT_WORK/show.txt")"
	vt_log "$1/$2: $st ($why)"
}

# vt_domain_define_busy NAME EVENTS BUFFER-KB: like vt_domain_define (2 vCPUs), with
# host EVENTS and a BUFFER-KB ring buffer per CPU in its virt-trace metadata, and a
# guest that panics and reboots in a loop (panic=1, on_reboot restart): a busy host
# event rate from QEMU's threads for as long as it runs.
vt_domain_define_busy()
{
	vt_domain_define "$1" 2 --cmdline 'console=ttyS0 panic=1 loglevel=8' --metadata \
		"<vt:trace xmlns:vt=\"urn:x-virt-trace:1\" enabled=\"yes\"><vt:host events=\"$2\" buffer-kb=\"$3\"/></vt:trace>"
}

# vt_daemon CMD...: CMD without any fd of ours but 0-2 (/dev/null): a daemon that kept
# the fd of `flock /tmp/vt-e2e.lock` (or ctest's pipes) would hold them forever
vt_daemon()
{
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
		done
		exec "$@" </dev/null >/dev/null 2>&1
	)
}

# vt_libvirtd_up: virtlogd and libvirtd run and qemu:///system answers (1 after 30 s)
vt_libvirtd_up()
{
	pgrep -x virtlogd >/dev/null || vt_daemon virtlogd -d
	pgrep -x libvirtd >/dev/null || vt_daemon libvirtd -d
	for _ in $(seq 60); do
		timeout 10 virsh -c qemu:///system version >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

# vt_libvirtd_restart: as scripts/setup.sh does; QEMU and the recorders stay (libvirt
# calls the hook with 'reconnect begin' for every running domain)
vt_libvirtd_restart()
{
	local pid
	pid=$(cat /run/libvirtd.pid) || vt_fail "no /run/libvirtd.pid"
	kill -TERM "$pid" || vt_fail "cannot stop libvirtd $pid"
	for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && vt_fail "libvirtd $pid did not stop within 15 s"
	vt_libvirtd_up || vt_fail "libvirtd does not answer after the restart"
	vt_log "libvirtd restarted (pid $pid -> $(cat /run/libvirtd.pid))"
	! ls -l "/proc/$(cat /run/libvirtd.pid)/fd" 2>/dev/null | grep -q ' -> /tmp/' ||
		vt_fail "the new libvirtd holds files of the test: $(ls -l "/proc/$(cat /run/libvirtd.pid)/fd" | grep ' -> /tmp/')"
}
