#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Odd domain names through real libvirt: each name libvirt accepts ('..', a leading
# dot, 'latest', a space, unicode, a tab, '%2F..', '-rf', 200 characters) is defined,
# started (KVM, direct kernel boot), traced and destroyed; its run must lie in one
# directory right under /var/lib/virt-trace (the escaped name), be found by
# `virt-trace path NAME`, hold only 0750 directories and 0640 files (group libvirt
# where it exists), and leave nothing outside the store nor a tracefs instance. A
# name of 100 two-byte characters (libvirt takes it; escaped it passes NAME_MAX) is
# not traced, with the domain running all the same. A name with '/' is refused by
# libvirt itself (shown). The store's cleanup goes by the escaped directory, never
# by the raw name.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vt_time_limit 120 "$@"
. "$(dirname "$0")/libvirt.sh"

vt_need_libvirt
vt_workdir libvirt-names
tag=vt-e2e-$$
names=("..${tag}" ".${tag}-hidden" "latest" "${tag} with space" "${tag}-ünicöde"
	"${tag}"$'\t'"tab" "%2F..${tag}" "-rf${tag}" "${tag}-$(printf 'a%.0s' $(seq 180))")
toolong="${tag}-$(printf 'ü%.0s' $(seq 100))"
defined=()

cleanup()
{
	local n d
	for n in "${defined[@]}"; do
		virsh_ destroy --domain "$n" >/dev/null 2>&1
		virsh_ undefine --domain "$n" >/dev/null 2>&1
	done
	# by the directory `virt-trace path` gives, checked to be right under the store
	for n in "${defined[@]}"; do
		d=$("$VT_CLI" path -- "$n" 2>/dev/null) || continue
		d=$(dirname "$d")
		[ "$(dirname "$d")" = "$VT_STORE" ] && [ "${d##*/}" != .. ] || continue
		vt_lock_wait "$d" 20	# a recorder still finalizing
		rm -rf "$d"
	done
	return 0
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# state of the latest run of $1, from its manifest (list's columns assume no spaces)
state_of()
{
	local d
	d=$("$VT_CLI" path -- "$1" 2>/dev/null) || return 1
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"])' \
		"$d/manifest.json" 2>/dev/null
}

# wait_state NAME SECS STATE...: until the latest run of NAME is in one of STATEs
wait_state()
{
	local n=$1 secs=$2 s i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		s=$(state_of "$n")
		for want in "$@"; do [ "$s" = "$want" ] && { echo "$s"; return 0; }; done
		sleep 0.1
	done
	echo "${s:-none}"
	return 1
}

# a KVM domain named $1 (XML-escaped by python), booting the host kernel
define()
{
	python3 - "$1" "$VT_KERNEL" >dom.xml <<'PY'
import sys
from xml.sax.saxutils import escape
print("""<domain type='kvm'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel>
<cmdline>console=ttyS0 panic=0</cmdline></os><on_poweroff>destroy</on_poweroff>
<devices><memballoon model='none'/></devices></domain>""" % (escape(sys.argv[1]), sys.argv[2]))
PY
	virsh_ define dom.xml >define.out 2>&1
}

# 1. libvirt refuses '/' itself
if define "${tag}/../../etc"; then
	virsh_ undefine --domain "${tag}/../../etc" >/dev/null 2>&1
	vt_fail "libvirt accepted a domain name with '/'"
fi
vt_log "libvirt refuses '/': $(grep -o "cannot contain '/'" define.out || head -1 define.out)"
grep -q "cannot contain '/'" define.out || vt_fail "unexpected refusal: $(head -2 define.out)"

before_store=$(ls -A "$VT_STORE" 2>/dev/null | sort)
before_var=$(ls -A /var/lib | sort)

# 2. every accepted name: traced, filed under its escape, modes
gid=$(getent group libvirt | cut -d: -f3)
# one at a time: nine domains booting at once on two cores are slower in all
for n in "${names[@]}"; do
	define "$n" || { cat define.out; vt_fail "libvirt refused '$n'"; }
	defined+=("$n")
	virsh_ start --domain "$n" >/dev/null || vt_fail "virsh start '$n' failed"
	wait_state "$n" 10 recording >/dev/null || vt_fail "'$n': the hook started no recording"
	sleep 0.5
	virsh_ destroy --domain "$n" >/dev/null || vt_fail "virsh destroy '$n' failed"
	st=$(wait_state "$n" 20 complete incomplete failed) || vt_fail "'$n': run not final ($st)"
	dir=$("$VT_CLI" path -- "$n") || vt_fail "virt-trace path '$n' failed"
	ddir=$(dirname "$dir")
	[ "$(dirname "$ddir")" = "$VT_STORE" ] || vt_fail "'$n': run dir $dir is not right under $VT_STORE"
	[ "$(realpath "$dir")" = "$dir" ] || vt_fail "'$n': $dir resolves to $(realpath "$dir")"
	esc=${ddir##*/}
	# the recorder is done when it lets go of the domain lock
	vt_lock_wait "$ddir" 10
	case $esc in .* | */*) vt_fail "'$n': domain directory '$esc'" ;; esac
	[ -s "$dir/host.dat" ] || vt_fail "'$n': no host.dat"
	python3 - "$dir/manifest.json" "$n" <<'PY' || vt_fail "'$n': manifest names another domain"
import json, sys
sys.exit(json.load(open(sys.argv[1]))["domain"]["name"] != sys.argv[2])
PY
	bad=$(find "$ddir" \( -type d ! -perm 0750 \) -o \( -type f ! -perm 0640 \))
	[ -z "$bad" ] || vt_fail "'$n': wrong modes: $(stat -c '%a %n' $bad | head -3)"
	if [ -n "$gid" ]; then
		bad=$(find "$ddir" ! -type l ! -gid "$gid")
		[ -z "$bad" ] || vt_fail "'$n': not group libvirt: $(stat -c '%G %n' $bad | head -3)"
	fi
	for _ in $(seq 50); do
		ls "$VT_TRACEFS/instances" | grep -qF -- "virt-trace-$esc" || break
		sleep 0.1
	done
	ls "$VT_TRACEFS/instances" | grep -qF -- "virt-trace-$esc" &&
		vt_fail "'$n': tracefs instance left behind"
	vt_log "'$(printf '%q' "$n" | cut -c1-40)' -> $esc ($st, $(find "$ddir" -type f | wc -l) files)"
done

# 3. too long once escaped: the domain runs, untraced, nothing made
define "$toolong" || vt_fail "libvirt refused the 100-character name: $(head -1 define.out)"
defined+=("$toolong")
virsh_ start --domain "$toolong" >/dev/null || vt_fail "the 100-character domain did not start"
sleep 1
[ "$(virsh_ domstate --domain "$toolong")" = running ] || vt_fail "the 100-character domain is not running"
virsh_ destroy --domain "$toolong" >/dev/null
"$VT_CLI" path -- "$toolong" >/dev/null 2>path.err && vt_fail "a run for the 100-character name"
vt_log "100 two-byte characters: $(head -1 path.err)"

# 4. nothing outside the store: /var/lib and the store hold only the new directories
after_var=$(ls -A /var/lib | sort)
[ "$before_var" = "$after_var" ] || vt_fail "/var/lib changed: $(diff <(echo "$before_var") <(echo "$after_var"))"
new=$(comm -13 <(echo "$before_store") <(ls -A "$VT_STORE" | sort) | wc -l)
[ "$new" -le "${#names[@]}" ] || vt_fail "$new new entries in $VT_STORE for ${#names[@]} names"
echo "PASS: $(basename "$0") ($(vt_elapsed))"
