#!/usr/bin/env python3
"""Collect plaintext markers from a plaintext tree, for scanning a vault.

usage: scan.py PLAINDIR PATTERNFILE

Writes one grep -F pattern per line to PATTERNFILE: every file, folder and
symlink name of 8 bytes or more, and up to three 24-byte content samples
per file (start, middle, end) that hold no newline and enough distinct
bytes not to match zeros or padding by chance. Prints "NAMES SAMPLES".
"""
import os
import sys

WIN = 24
# The vault's own audit store is an SQLite database: its header (magic and
# page-size fields) is the same as in any SQLite file a test saves.
COMMON = (b"SQLite format 3\x00",)


def samples(path, size):
    out = []
    try:
        with open(path, "rb") as f:
            for off in sorted({0, size // 2, max(0, size - 4 * WIN)}):
                f.seek(off)
                buf = f.read(4 * WIN)
                for i in range(0, max(1, len(buf) - WIN + 1)):
                    w = buf[i:i + WIN]
                    if w.startswith(COMMON):
                        break
                    if len(w) == WIN and b"\n" not in w and len(set(w)) >= 8:
                        out.append(w)
                        break
    except OSError:
        pass
    return out


def main():
    top, dest = sys.argv[1], sys.argv[2]
    pats = set()
    names = 0
    nsamp = 0
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            b = os.fsencode(n)
            if len(b) >= 8 and b"\n" not in b:
                if b not in pats:
                    names += 1
                pats.add(b)
        for n in files:
            p = os.path.join(root, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not os.path.isfile(p) or os.path.islink(p) or st.st_size < WIN:
                continue
            for w in samples(p, st.st_size):
                if w not in pats:
                    nsamp += 1
                pats.add(w)
    with open(dest, "wb") as f:
        for p in sorted(pats):
            f.write(p + b"\n")
    print(names, nsamp)


if __name__ == "__main__":
    main()
