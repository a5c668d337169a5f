#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Prove that a finalized host.dat kept every page that was in the spool.

  spool-pages.py snapshot SPOOL-DIR OUT   sha256 of every whole, non-empty page of
                                          SPOOL-DIR/{main,tsc}/cpuN.raw into OUT
  spool-pages.py check HOST.DAT LIST      every page of LIST is a page of HOST.DAT
                                          (trace.dat CPU data is page-aligned)

Prints the counts; exit 1 when a page is missing.
"""
import glob
import hashlib
import os
import struct
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
COMMIT_LEN_MASK = (1 << 27) - 1


def whole_pages(path):
    with open(path, "rb") as f:
        data = f.read()
    for off in range(0, len(data) - len(data) % PAGE, PAGE):
        page = data[off:off + PAGE]
        commit = struct.unpack_from("<Q", page, 8)[0]
        if not (commit & COMMIT_LEN_MASK) and not (commit >> 30):
            continue  # an empty page of a flush: finalize skips it too
        yield page


def snapshot(spool, out):
    hashes = []
    for sub in ("main", "tsc"):
        for path in sorted(glob.glob(os.path.join(spool, sub, "cpu*.raw"))):
            hashes += [hashlib.sha256(p).hexdigest() for p in whole_pages(path)]
    with open(out, "w") as f:
        f.write("\n".join(hashes) + ("\n" if hashes else ""))
    print(f"{len(hashes)} spooled pages")


def check(dat, listfile):
    with open(listfile) as f:
        want = [line.strip() for line in f if line.strip()]
    with open(dat, "rb") as f:
        data = f.read()
    have = {hashlib.sha256(data[o:o + PAGE]).hexdigest()
            for o in range(0, len(data) - PAGE + 1, PAGE)}
    missing = [h for h in want if h not in have]
    print(f"{len(want) - len(missing)} of {len(want)} spooled pages in {os.path.basename(dat)}")
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "snapshot":
        snapshot(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
