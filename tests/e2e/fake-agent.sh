#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A hostile virt-trace-agent for tests/e2e/test-agent-hostile.sh: a busybox sh
# script that the collector pushes into the guest (config agent_binary) in place
# of the real agent, which rides behind it: the test pads this script to
# FAKE_SIZE bytes and appends the real static binary. Every verb goes to the
# real agent, except that the even-numbered collects answer badly, one bad
# kind each, in this order (the odd ones are valid):
#   2 reply_too_big  3.5 MiB of output
#   4 truncated      the chunk cut to half its size
#   6 bad_header     the chunk overwritten with random bytes
#   8 bad_reply      output that is not JSON
#  10 too_big        the chunk grown to 9 MiB, and said so
#  12 timeout        never answers (sleeps)
#  14 wrong_boot     the chunk's boot_id replaced
#  16 replayed       the first collect's chunk served again
# and the first stop (the flush at shutdown) never answers either. Its info
# carries a sched_switch format whose print fmt crashes libtraceevent 1.7
# (a subscript of a subscript: REC->prev_pid[0][1]).
# The guest file /tmp/vt-fake.log lists what was answered.
FAKE_SIZE=8192
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
real=/tmp/vt-real-agent
count=/tmp/vt-fake-collects
log=/tmp/vt-fake.log

# the real agent, from behind this script (once)
if [ ! -x $real ]; then
	if ! { tail -c +$((FAKE_SIZE + 1)) "$0" >$real.tmp && chmod 0755 $real.tmp &&
		mv $real.tmp $real; }; then
		echo "fake-agent: cannot unpack the real agent" >&2
		exit 1
	fi
fi

if [ "$1" = stop ] && [ ! -e /tmp/vt-fake-stopped ]; then
	: >/tmp/vt-fake-stopped
	echo "stop timeout" >>$log
	exec sleep 3600
fi
if [ "$1" = info ] && [ "$2" = --out ]; then
	$real "$@" || exit 1
	if grep -q 'REC->prev_pid,' "$3"; then
		sed 's/REC->prev_pid,/REC->prev_pid[0][1],/' "$3" >"$3.tmp" && mv "$3.tmp" "$3"
		echo "info hostile_format" >>$log
	else
		echo "info without a sched_switch format to spoil" >>$log
	fi
	exit 0
fi
[ "$1" = collect ] || exec $real "$@"

n=$(($(cat $count 2>/dev/null || echo 0) + 1))
echo $n >$count

# the real collect: its reply in $out, its chunk's path and bytes
real_collect()
{
	out=$($real collect) || exit 1
	path=$(echo "$out" | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
	bytes=$(echo "$out" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')
}

case $n in
1)
	real_collect
	cp "$path" /tmp/vt-fake-first.bin
	echo "$n valid (kept for the replay)" >>$log
	echo "$out" ;;
2)
	real_collect
	rm -f "$path"
	echo "$n reply_too_big" >>$log
	yes '{"more":false}' | head -c 3670016 ;;
4)
	real_collect
	head -c $((bytes / 2)) "$path" >"$path.cut" && mv "$path.cut" "$path"
	echo "$n truncated" >>$log
	echo "$out" ;;
6)
	real_collect
	head -c "$bytes" /dev/urandom >"$path"
	echo "$n bad_header" >>$log
	echo "$out" ;;
8)
	real_collect
	rm -f "$path"
	echo "$n bad_reply" >>$log
	echo "this is not what collect returns" ;;
10)
	real_collect
	dd if=/dev/zero bs=1048576 count=9 2>/dev/null >>"$path"
	big=$(stat -c %s "$path")
	echo "$n too_big ($big bytes)" >>$log
	echo "$out" | sed "s/\"bytes\":[0-9]*/\"bytes\":$big/" ;;
12)
	echo "$n timeout" >>$log
	exec sleep 3600 ;;
14)
	real_collect
	printf '00000000-0000-4000-8000-000000000000' |
		dd of="$path" bs=1 seek=32 conv=notrunc 2>/dev/null
	echo "$n wrong_boot" >>$log
	echo "$out" ;;
16)
	real_collect
	cp /tmp/vt-fake-first.bin "$path"
	echo "$n replayed" >>$log
	echo "$out" | sed "s/\"bytes\":[0-9]*/\"bytes\":$(stat -c %s "$path")/" ;;
*)
	echo "$n valid" >>$log
	exec $real collect ;;
esac
exit 0
