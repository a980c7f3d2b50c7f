"""One line per target: what was measured, the figure, the target, PASS or FAIL, and the load.

    preview last page @200k (mariadb): 21 ms (first 19 ms, 1.11x) target <= 60 ms, <= 1.5x  PASS
      load=1.8   (one line)

The load is the 1-minute load average when the line is printed (os.getloadavg()): on a shared
machine every figure is worse when it is high, so a figure is read with it.
"""

from __future__ import annotations

import os


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def machine() -> str:
    one, five, fifteen = os.getloadavg()
    return f"machine: {os.cpu_count()} CPUs, load average {one:.2f}/{five:.2f}/{fifteen:.2f}"


def line(what: str, figure: str, target: str, passed: bool) -> str:
    return f"{what}: {figure} target {target}  {'PASS' if passed else 'FAIL'}  load={load()}"


def report(what: str, figure: str, target: str, passed: bool) -> bool:
    print(line(what, figure, target, passed), flush=True)
    return passed
