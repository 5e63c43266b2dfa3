"""The test suite's wall time and where its CPU goes, here and at an older commit, in turn.

    python bench/suite_time.py --reference cc6fc58 --rounds 2
    python bench/suite_time.py --fast --rounds 3          # make test-fast's selection and settings

Each round runs the suite as ``make test`` does (``pytest -n auto --dist worksteal``, the virtual
environment already made) in the reference's worktree, then in this checkout, so that the two see
the same moments of the machine. This file is also the pytest plugin that counts, for every test,
its wall time and the CPU seconds of the worker and of the processes it started and waited for
(``resource.getrusage``; Ray's own daemons are not children and are not counted). Prints a line
per run, then the medians and the costliest tests, and, for the last round here, when the README
test ran and the tests that used more than a core beside it. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

OUT_ENV = "SUITE_TIME_OUT"  # where the plugin appends its records (one JSON line a test)
README_TEST = "test_default_model_tags_the_readme_examples"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ARG001 - pytest's hook signature
    """The plugin: one test's wall time and CPU seconds, appended to ``$SUITE_TIME_OUT``."""
    own, children, start = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.monotonic()
    yield
    record = {
        "test": item.nodeid,
        "end": time.time(),  # when it ended (the epoch's clock: the same for every worker)
        "wall": time.monotonic() - start,
        "cpu": _cpu(resource.RUSAGE_SELF) - own + _cpu(resource.RUSAGE_CHILDREN) - children,
    }
    with open(os.environ[OUT_ENV], "a") as f:
        f.write(json.dumps(record) + "\n")


def run_suite(tree: Path, fast: bool, out: Path, extra: list[str]) -> dict:
    """The suite once in ``tree``; its wall time, the load before it, pytest's last line and the tests' records."""
    out.unlink(missing_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", OUT_ENV: str(out)}
    if fast:  # as make test-fast runs them: property tests on a quarter of their examples
        env["SLOTFILL_FAST_TESTS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "suite_time", "-p", "no:cacheprovider"]
    cmd += ["-n", "auto", "--dist", "worksteal", *(["-m", "not slow"] if fast else []), *extra]
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0 or not records:  # a suite that failed, or ran nothing, has no time to report
        failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
        raise SystemExit(
            "\n".join(
                [*failed, f"the suite in {tree} ended with status {proc.returncode} ({summary}): no time recorded"]
            )
        )
    return {"wall": wall, "load": load, "summary": summary, "records": records}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", help="a commit to time beside this checkout (its worktree under bench/runs)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--fast", action="store_true", help="the tests make test-fast runs (-m 'not slow')")
    ap.add_argument("--pytest-args", default="", help="more pytest arguments, e.g. '-k tokenize' (one string)")
    ap.add_argument("--top", type=int, default=12, help="the costliest tests to list (by CPU, last round)")
    args = ap.parse_args()
    from common import ROOT, worktree

    sides = {"this checkout": ROOT}
    if args.reference:
        tree = worktree(args.reference)
        # the tests read the benchmarks from ../shared/data beside their checkout: a link, never a copy
        link = tree.parent / "shared"
        if not link.exists() and (ROOT.parent / "shared").is_dir():
            link.symlink_to(ROOT.parent / "shared")
        sides = {f"@{args.reference}": tree, **sides}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    scratch = ROOT / "bench" / "runs" / "suite_time"
    scratch.mkdir(parents=True, exist_ok=True)
    for r in range(1, args.rounds + 1):
        for name, tree in sides.items():
            run = run_suite(tree, args.fast, scratch / "records.jsonl", args.pytest_args.split())
            runs[name].append(run)
            cpu = sum(t["cpu"] for t in run["records"])
            readme = [t for t in run["records"] if README_TEST in t["test"]]
            print(
                f"round {r} {name}: {run['wall']:.1f} s wall, tests' CPU {cpu:.0f} s"
                + (f" (README test {readme[0]['wall']:.0f} s wall, {readme[0]['cpu']:.0f} s CPU)" if readme else "")
                + f", load before {run['load']:.2f}: {run['summary']}",
                flush=True,
            )
    print(f"load after {os.getloadavg()[0]:.2f}")
    for name, done in runs.items():
        walls = [d["wall"] for d in done]
        cpus = [sum(t["cpu"] for t in d["records"]) for d in done]
        each = ", ".join(f"{w:.0f}" for w in walls)
        median_cpu = statistics.median(cpus)
        print(f"{name}: wall median {statistics.median(walls):.1f} s ({each}), tests' CPU median {median_cpu:.0f} s")
    last = runs["this checkout"][-1]["records"]
    print("costliest tests here (last round), CPU s / wall s:")
    for t in sorted(last, key=lambda t: -t["cpu"])[: args.top]:
        print(f"  {t['cpu']:6.1f} {t['wall']:6.1f}  {t['test']}")
    beside_readme(last)


def beside_readme(records: list[dict]) -> None:
    """When the README test ran in the suite, and the tests on the other workers meanwhile that used
    more than one core (their CPU over their wall time): they slow the README test down."""
    readme = [t for t in records if README_TEST in t["test"]]
    if not readme or "end" not in readme[0]:
        return
    first = min(t["end"] - t["wall"] for t in records)
    r = readme[0]
    start, end = r["end"] - r["wall"] - first, r["end"] - first
    total = max(t["end"] for t in records) - first
    print(f"the README test ran from {start:.0f} to {end:.0f} s of the suite's {total:.0f}")
    beside = [t for t in records if t is not r and t["end"] - first > start and t["end"] - t["wall"] - first < end]
    busy = [t for t in beside if t["wall"] > 1 and t["cpu"] > 1.2 * t["wall"]]
    cpu = sum(t["cpu"] for t in beside)
    print(f"beside it: {len(beside)} tests, {cpu:.0f} s of CPU; those using more than a core, CPU s / wall s:")
    for t in sorted(busy, key=lambda t: -t["cpu"]):
        print(f"  {t['cpu']:6.1f} {t['wall']:6.1f}  {t['test']}")


if __name__ == "__main__":
    main()
