"""The Python peer of `cargo xtask bench --peers`: psutil's send_signal(0),
with a cached Process and with a fresh Process(pid) per call, against
os.kill(pid, 0) in this same Python process, measured interleaved.

Prints one JSON line per row: {"group","op","subject","metric","a":[ns...],
"b":[ns...]}, "a" the psutil figure, "b" os.kill, each sample the mean cost
of one call over a ~2 ms batch.

Usage: python psutil_peer.py BUDGET_SECONDS
"""

import json
import os
import subprocess
import sys
import time

import psutil

ns = time.perf_counter_ns


def calibrate(f):
    """How many calls of f fill about 2 ms."""
    target = 2_000_000
    n = 1
    while True:
        t = ns()
        for _ in range(n):
            f()
        took = ns() - t
        if took >= target // 4 or n >= 1 << 24:
            return max(1, int(target / max(took / n, 1)))
        n *= 4


def per_op(n, f):
    t = ns()
    for _ in range(n):
        f()
    return (ns() - t) / n


def interleave(budget_s, a, b):
    """A B, then B A, ... until the budget is spent (at least 20 each)."""
    na, nb = calibrate(a), calibrate(b)
    va, vb = [], []
    end = time.monotonic() + budget_s
    while len(va) < 20 or time.monotonic() < end:
        if len(va) % 2 == 0:
            va.append(per_op(na, a))
            vb.append(per_op(nb, b))
        else:
            vb.append(per_op(nb, b))
            va.append(per_op(na, a))
    return va, vb


def main():
    if len(sys.argv) != 2:
        print("usage: psutil_peer.py BUDGET_SECONDS", file=sys.stderr)
        return 2
    budget = float(sys.argv[1])
    child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    try:
        pid = child.pid
        cached = psutil.Process(pid)
        subject = "psutil %s (Python %d.%d)" % (
            psutil.__version__,
            sys.version_info[0],
            sys.version_info[1],
        )

        def raw():
            os.kill(pid, 0)

        def held():
            cached.send_signal(0)

        def fresh():
            psutil.Process(pid).send_signal(0)

        for op, metric, f in (
            ("held_kill", "cached Process.send_signal(0) vs os.kill(pid, 0) [Python]", held),
            ("from_pid_kill", "Process(pid).send_signal(0) vs os.kill(pid, 0) [Python]", fresh),
        ):
            a, b = interleave(budget, f, raw)
            line = {"group": "signal send", "op": op, "subject": subject,
                    "metric": metric, "a": a, "b": b}
            print(json.dumps(line), flush=True)
    finally:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
