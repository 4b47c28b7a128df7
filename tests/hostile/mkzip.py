#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Packages for the hostile tests, made at test time from the signed sample package.

  mkzip.py bulk SAMPLE_ZIP OUT MEMBERS MIB   the sample's members plus MEMBERS members of MIB
                                             MiB each of pseudo-random, compressible text
                                             (deflate ratio ~40, under the limit of 100)
  mkzip.py many SAMPLE_ZIP OUT COUNT         the sample's members plus COUNT small members
  mkzip.py pad SAMPLE_ZIP OUT BYTES          the sample's members plus one stored member of
                                             BYTES random bytes (a big body, quick to verify)

The extra members are not listed in the manifest: the verdict is fail (or warn), an answer.
Prints "members N expanded BYTES zip BYTES max_ratio R".
"""
import os
import random
import sys
import zipfile

WORDS = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel"]


def text_block(rng, size):
    """SIZE bytes of lines that differ in three random words each (deflate ratio ~40)."""
    out, n = [], 0
    while n < size:
        line = (b"supply chain evidence record; supplier audit passed; " +
                b" ".join(rng.choice(WORDS) for _ in range(3)) +
                b"; country of origin verified; scope 3 emissions reported\n")
        out.append(line)
        n += len(line)
    return b"".join(out)[:size]


def main():
    kind, sample, out = sys.argv[1], sys.argv[2], sys.argv[3]
    tmp = out + ".tmp"
    with zipfile.ZipFile(sample) as zin, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        if kind == "bulk":
            members, mib = int(sys.argv[4]), int(sys.argv[5])
            for k in range(members):
                rng = random.Random(1000 + k)
                block = text_block(rng, 1 << 20)
                # each MiB its own block: repeats further apart than deflate's 32 KiB window
                # compress no better than the block itself
                data = b"".join(block[i:] + block[:i] for i in range(0, mib * 4096, 4096))
                zout.writestr("bulk/part-%02d.txt" % k, data[: mib << 20])
        elif kind == "many":
            for k in range(int(sys.argv[4])):
                zout.writestr("extra/member-%05d.txt" % k, b"unlisted member %05d\n" % k)
        elif kind == "pad":
            zout.writestr(zipfile.ZipInfo("padding.bin"), os.urandom(int(sys.argv[4])),
                          compress_type=zipfile.ZIP_STORED)
        else:
            sys.exit("unknown kind " + kind)
    os.replace(tmp, out)
    with zipfile.ZipFile(out) as z:
        infos = z.infolist()
        expanded = sum(i.file_size for i in infos)
        ratio = max((i.file_size / i.compress_size for i in infos if i.compress_size), default=0)
    print("members %d expanded %d zip %d max_ratio %.1f" %
          (len(infos), expanded, os.path.getsize(out), ratio))


if __name__ == "__main__":
    main()
