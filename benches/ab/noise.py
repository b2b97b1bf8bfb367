#!/usr/bin/env python3
"""A noise generator for measuring compares on a busy machine: on every core, CPU bursts of
50-500 ms separated by idle gaps of 50-500 ms, each length drawn at random. It ends by itself
after --seconds (default 600) and when its parent dies, so a forgotten one cannot burn a CI
runner. Usage: noise.py [--seconds S] [--seed N] [--cores N]"""
import argparse
import os
import random
import signal
import sys
import time


def burner(seed, until, parent):
    rng = random.Random(seed)
    while time.monotonic() < until and os.getppid() == parent:
        end = time.monotonic() + rng.uniform(0.05, 0.5)
        x = 0
        while time.monotonic() < end:
            for _ in range(2000):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        time.sleep(rng.uniform(0.05, 0.5))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    if not (0 < a.seconds <= 86400):
        sys.exit("noise.py: --seconds must be in (0, 86400]")
    until = time.monotonic() + a.seconds
    me = os.getpid()
    children = []
    for i in range(a.cores):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            burner(a.seed * 1000 + i, until, me)
            os._exit(0)
        children.append(pid)

    def stop(*_):
        for c in children:
            try:
                os.kill(c, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for c in children:
        os.waitpid(c, 0)


if __name__ == "__main__":
    main()
