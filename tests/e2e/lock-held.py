#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# lock-held.py LOCKFILE: exit 0 when a recorder holds the store's domain lock
# (<store>/<domain>/.lock, an open file description lock), 1 when nobody does or
# the file is missing. It tests the lock (F_OFD_GETLK) and never takes it: taking
# it for a moment, as `flock -n` would, could make a recorder starting then fail.
import fcntl
import os
import struct
import sys

F_OFD_GETLK = getattr(fcntl, 'F_OFD_GETLK', 36)
FLOCK = 'hhqqi4x'	# struct flock on Linux x86_64/aarch64: type, whence, start, len, pid

try:
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CLOEXEC)
except OSError:
    sys.exit(1)
res = fcntl.fcntl(fd, F_OFD_GETLK, struct.pack(FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
os.close(fd)
sys.exit(0 if struct.unpack(FLOCK, res)[0] != fcntl.F_UNLCK else 1)
