#!/usr/bin/env python3
"""fsync_probe.py: what one small synced write costs on this disk, appended
to a growing file, appended into space fallocated ahead with the file size
kept (how RocksDB writes its WAL by default), into space fallocated ahead
that is already part of the file (RocksDB's fallocate_with_keep_size =
false), and overwriting a file filled with zeros beforehand (how Postgres
reuses its WAL segments).

    python3 bench/fsync_probe.py [DIR] [WRITES] [BYTES]

DIR defaults to the current directory (use the file system the data
directory lives on), WRITES to 3000 writes of BYTES = 300 bytes, each
followed by fdatasync(). Prints syncs per second and microseconds per sync
for each way, twice, alternating. An append changes the file size, so each
fdatasync() also commits the inode to the file system journal; an overwrite
inside the file's size does not. Writing into fallocated space that is
inside the file's size changes no size, but turns the extent's blocks from
unwritten to written, a journal commit only when a write reaches a new
block (ext4).
"""
import ctypes
import os
import sys
import time

FALLOC_FL_KEEP_SIZE = 1


def fallocate(fd, length, keep_size):
    libc = ctypes.CDLL(None, use_errno=True)
    mode = FALLOC_FL_KEEP_SIZE if keep_size else 0
    if libc.fallocate(fd, mode, ctypes.c_long(0), ctypes.c_long(length)) != 0:
        raise OSError(ctypes.get_errno(), "fallocate")


def probe(directory, name, prefill, writes, size):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        length = writes * size + 4096
        if prefill == "zeros":
            os.write(fd, b"\0" * length)
        elif prefill in ("fallocate_keep_size", "fallocate"):
            fallocate(fd, length, prefill == "fallocate_keep_size")
        if prefill:
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        record = b"x" * size
        start = time.monotonic()
        for _ in range(writes):
            os.write(fd, record)
            os.fdatasync(fd)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
        os.unlink(path)
    print(f"{name:>16}: {writes / elapsed:8.0f} fdatasync/s  {elapsed / writes * 1e6:6.0f} us each")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    writes = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    for _ in range(2):
        probe(directory, "append", None, writes, size)
        probe(directory, "fallocated_keep", "fallocate_keep_size", writes, size)
        probe(directory, "fallocated", "fallocate", writes, size)
        probe(directory, "overwrite_zeroed", "zeros", writes, size)


if __name__ == "__main__":
    main()
