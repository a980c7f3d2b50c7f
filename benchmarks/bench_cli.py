"""Benchmark of the CLI's read commands in a cold process: prints figures and one verdict line
per command, asserts nothing.

    python benchmarks/bench_cli.py [--rounds 7] [--compare DIR]

Each round starts ``python -m sync_core COMMAND --json`` once per command, in a fresh process
(no warm imports), on the embedded demo (no configuration: the demo SQLite MIS, built once
before the first round), commands alternating A B C A B C ... so that the machine's load falls
on all alike. The packages are byte-compiled first, as installing them does. With
``--compare DIR`` (another checkout, e.g. ``git archive`` of an earlier commit unpacked there),
the same commands of that tree alternate with this one's.
  target: each command <= 0.5 s wall time (median)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verdict  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.5
COMMANDS = (
    ("analyze", "--json"),
    ("preview-applicants", "--json"),
    ("preview-students", "--json"),
)


def environment(data_dir: Path) -> dict[str, str]:
    """The embedded demo, whatever this shell has configured; its files in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "QBO_", "SYNC_"))}
    env["SYNC_DATA_DIR"] = str(data_dir)
    env.pop("PYTHONPATH", None)
    return env


def run_cold(tree: Path, command: tuple[str, ...], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sync_core", *command],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} in {tree} exited {done.returncode}")
    return elapsed


def compile_bytecode(tree: Path) -> None:
    """Byte-compile the tree's packages once, as installing a package does: a cold process
    then reads bytecode, as in production. (Without this, a machine with
    PYTHONDONTWRITEBYTECODE=1, this one included, compiles every module of ours from source on
    every start, about 60 ms that no installed copy pays.)"""
    packages = [str(tree / name) for name in ("sync_core", "qbo_simulator")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *packages], check=True, capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare", type=Path, help="another checkout to alternate with")
    args = parser.parse_args()
    trees = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    print(verdict.machine())
    with tempfile.TemporaryDirectory() as scratch:
        envs = {}
        for label, tree in trees:
            data = Path(scratch) / label
            envs[label] = environment(data)
            compile_bytecode(tree)
            run_cold(tree, COMMANDS[0], envs[label])  # builds the demo MIS once, then warm disk
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for command in COMMANDS:
                for label, tree in trees:
                    elapsed = run_cold(tree, command, envs[label])
                    times.setdefault((label, command[0]), []).append(elapsed)
    for (label, name), values in times.items():
        print(
            f"{label:<8} {name:<20} median {statistics.median(values) * 1000:6.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}) over {len(values)}"
        )
    for command in COMMANDS:
        figure = statistics.median(times[("this", command[0])])
        extra = ""
        if args.compare:
            before = statistics.median(times[("compare", command[0])])
            extra = f" (compare {before * 1000:.0f} ms, {figure / before:.2f}x)"
        verdict.report(
            f"cold `{' '.join(command)}`",
            f"{figure * 1000:.0f} ms{extra}",
            f"<= {TARGET_S * 1000:.0f} ms",
            figure <= TARGET_S,
        )


if __name__ == "__main__":
    main()
