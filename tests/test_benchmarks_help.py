"""Every benchmark script answers ``--help`` with its usage and runs nothing.

A script that parsed ``sys.argv`` by hand took ``--help`` for a tag or ignored it, and started
its benchmark: ``baseline_time.py --help`` overwrote the committed result. Each script is run
in its own process (all started at once, so that the scripts that import torch at the top
share the wait) from the repository root, and nothing under benchmarks/results/ or runs/ may
change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
WATCHED = (ROOT / "benchmarks" / "results", ROOT / "runs")
TIMEOUT = 120  # seconds a process may take: the slowest only imports torch and nas


def snapshot() -> dict[str, tuple[int, int]]:
    """Every file under WATCHED: its modification time (ns) and size."""
    files = {}
    for folder in WATCHED:
        for path in folder.rglob("*") if folder.is_dir() else ():
            if path.is_file():
                stat = path.stat()
                files[str(path.relative_to(ROOT))] = (stat.st_mtime_ns, stat.st_size)
    return files


def run_all(commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """``python benchmarks/NAME ARGS`` for each entry, all started at once from the root;
    asserts that none of them touched benchmarks/results/ or runs/."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    before = snapshot()
    started = {
        key: subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for key, args in commands.items()
    }
    done = {}
    try:
        for key, proc in started.items():
            try:
                out, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{' '.join(commands[key])} still ran after {TIMEOUT} s")
            done[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        for proc in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert snapshot() == before, "a benchmark wrote under benchmarks/results/ or runs/"
    return done


@pytest.mark.slow
def test_every_benchmark_answers_help_and_runs_nothing() -> None:
    assert len(SCRIPTS) > 10
    done = run_all({p.name: [f"benchmarks/{p.name}", "--help"] for p in SCRIPTS})
    for name, result in done.items():
        assert result.returncode == 0, f"{name} --help: exit {result.returncode}\n{result.stderr}"
        assert "usage:" in result.stdout, f"{name} --help printed no usage:\n{result.stdout}"


def test_a_bad_argument_is_a_usage_error() -> None:
    done = run_all({
        "baseline_time.py": ["benchmarks/baseline_time.py", "--no-such-option"],
        "augment_digits.py": ["benchmarks/augment_digits.py", "tag", "--no-such-option"],
        "kernel_cache.py": ["benchmarks/kernel_cache.py", "--no-such-option"],
        "rerank.py": ["benchmarks/rerank.py", "tag", "runs/x", "--by", "no-such-rule"],
        # a search's arguments must follow `--`
        "memory_trace.py": ["benchmarks/memory_trace.py", "tag", "--dataset", "digits"],
    })  # fmt: skip
    for name, result in done.items():
        assert result.returncode == 2, f"{name}: exit {result.returncode}\n{result.stderr}"
        assert "usage:" in result.stderr, f"{name} gave no usage:\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
