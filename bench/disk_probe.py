"""The floor under any durable receipt on this disk, right now: the receipt store's
write pattern (an anonymous O_TMPFILE written and fsynced, linked into place with
linkat, the directory fsynced), timed on its own in a fresh directory under DIR (left in place).

On a shared virtual disk the fsync latency moves by a factor of several within
minutes, and every gavel command that writes a receipt moves with it; the bench
scripts print this beside their figures so that a run can be read against the disk
it ran on. It also prints the median of each part: making the anonymous file (an
inode allocation, which has taken from 20 us to 1 ms on this disk), the receipt's fsync
and the directory's fsync.

usage: python3 bench/disk_probe.py DIR [N]     (N appends, default 200)
"""
import ctypes
import os
import statistics
import sys
import tempfile
import time

AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400


def main():
    base = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    libc = ctypes.CDLL(None, use_errno=True)
    os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(dir=base, prefix="disk-probe.")
    dfd = os.open(d, os.O_RDONLY)
    ts = []
    # the parts: making the anonymous file (an inode allocation), the receipt's fsync,
    # the directory's fsync
    parts = {"file": [], "fsync": [], "dir fsync": []}
    try:
        for i in range(n):
            t = time.perf_counter()
            fd = os.open(d, os.O_WRONLY | os.O_TMPFILE, 0o644)
            t_open = time.perf_counter()
            os.write(fd, b"x" * 1100)
            os.fsync(fd)
            t_sync = time.perf_counter()
            to = os.path.join(d, "%012d.json" % i).encode()
            if libc.linkat(AT_FDCWD, b"/proc/self/fd/%d" % fd, AT_FDCWD, to, AT_SYMLINK_FOLLOW) != 0:
                sys.exit("disk_probe: linkat: " + os.strerror(ctypes.get_errno()))
            os.close(fd)
            t_link = time.perf_counter()
            os.fsync(dfd)
            t_end = time.perf_counter()
            ts.append(t_end - t)
            parts["file"].append(t_open - t)
            parts["fsync"].append(t_sync - t_open)
            parts["dir fsync"].append(t_end - t_link)
    finally:
        # the files stay (see the bench scripts: deleting many files slows allocation
        # on this disk for the next minute or two)
        os.close(dfd)
    ts.sort()
    print(
        "== durable append like the receipt store's on %s: p50 %.0f us, p90 %.0f us, mean %.0f us (p50 of its parts: %s; load average %.1f)"
        % (
            base,
            statistics.median(ts) * 1e6,
            ts[int(0.9 * len(ts))] * 1e6,
            statistics.fmean(ts) * 1e6,
            ", ".join("%s %.0f us" % (k, statistics.median(v) * 1e6) for k, v in parts.items()),
            os.getloadavg()[0],
        )
    )


if __name__ == "__main__":
    main()
