#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The test-guest kit's disk pattern, on the host side.

In sector s (512 bytes), bytes 0-7 hold s ^ (seed * 0x0101010101010101)
little-endian and byte i >= 8 holds (i * 7 + s + seed) & 0xff. Seed 0 is
what blk_read expects; blk_rw writes seed 0x5a unless told otherwise.

  blk_pattern.py gen FILE SECTORS [--seed N]
      writes SECTORS sectors of the pattern to FILE (created or truncated)
  blk_pattern.py check FILE [--seed N] [--start LBA] [--sectors N]
      checks the range (default: the whole file); exit 0 when it matches,
      1 with the first bad sector and byte otherwise
"""
import argparse
import struct
import sys

SECTOR = 512


def _tails(seed):
    # Bytes 8..511 depend on (s + seed) & 0xff only: 256 variants.
    return [bytes(((i * 7 + k) & 0xff) for i in range(8, SECTOR))
            for k in range(256)]


def sector_bytes(s, seed, tails):
    head = struct.pack('<Q', s ^ (seed * 0x0101010101010101))
    return head + tails[(s + seed) & 0xff]


def gen(path, sectors, seed):
    tails = _tails(seed)
    with open(path, 'wb') as f:
        step = 2048
        for base in range(0, sectors, step):
            n = min(step, sectors - base)
            f.write(b''.join(sector_bytes(base + k, seed, tails)
                             for k in range(n)))
    return 0


def check(path, seed, start, sectors):
    tails = _tails(seed)
    with open(path, 'rb') as f:
        f.seek(0, 2)
        total = f.tell() // SECTOR
        if sectors is None:
            sectors = total - start
        if start + sectors > total:
            print(f'{path}: {total} sectors, range ends at {start + sectors}')
            return 1
        f.seek(start * SECTOR)
        for k in range(sectors):
            s = start + k
            got = f.read(SECTOR)
            want = sector_bytes(s, seed, tails)
            if got != want:
                i = next(j for j in range(SECTOR) if got[j] != want[j])
                print(f'{path}: sector {s} byte {i}: {got[i]:#x}, '
                      f'want {want[i]:#x}')
                return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('gen')
    g.add_argument('file')
    g.add_argument('sectors', type=int)
    g.add_argument('--seed', type=lambda v: int(v, 0), default=0)
    c = sub.add_parser('check')
    c.add_argument('file')
    c.add_argument('--seed', type=lambda v: int(v, 0), default=0)
    c.add_argument('--start', type=int, default=0)
    c.add_argument('--sectors', type=int, default=None)
    a = p.parse_args()
    if not 0 <= a.seed <= 255:
        p.error('--seed must be 0-255')
    if a.cmd == 'gen':
        return gen(a.file, a.sectors, a.seed)
    return check(a.file, a.seed, a.start, a.sectors)


if __name__ == '__main__':
    sys.exit(main())
