#!/usr/bin/env python3
"""Runs the libFuzzer targets and sums up what they did.

Each target starts from its committed seed corpus (tests/fuzz/corpus/TARGET,
which keeps every input that once crashed: replaying it is the regression
test) and writes what it finds new into a working corpus under the build
folder, never into the committed one. --runs N bounds each target by count
(make check), --seconds S by time (make fuzz). A crash, a leak, a sanitizer
report or a timeout is a failure: its input is kept in BUILD/crashes/ and
named. Prints one line per target with its executions, then `failures: N`;
exits 1 on any failure.
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def run_target(build, target, runs, seconds, max_len):
    binary = build / target
    seeds = HERE / "corpus" / target.removeprefix("fuzz_")
    work = build / "corpus" / target
    crashes = build / "crashes"
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    args = [str(binary), "-print_final_stats=1", f"-max_len={max_len}", "-timeout=20",
            "-rss_limit_mb=1024", f"-artifact_prefix={crashes}/{target}-"]
    if runs is not None:
        args += [f"-runs={runs}", "-max_total_time=60"]
    else:
        args += [f"-max_total_time={seconds}"]
    args += [str(work), str(seeds)]
    start = time.monotonic()
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    p = subprocess.run(args, capture_output=True, text=True, errors="replace", env=env)
    took = time.monotonic() - start
    execs = re.search(r"stat::number_of_executed_units:\s*(\d+)", p.stderr)
    execs = int(execs.group(1)) if execs else 0
    seeds_n = sum(1 for f in seeds.iterdir() if f.is_file()) if seeds.is_dir() else 0
    found = sorted(crashes.glob(f"{target}-*"))
    ok = p.returncode == 0
    print(f"fuzz {target}: {execs} executions in {took:.0f} s from {seeds_n} seeds "
          f"(corpus now {sum(1 for _ in work.iterdir())} inputs): "
          + ("ok" if ok else f"FAILED (exit {p.returncode})"), flush=True)
    if not ok:
        tail = [l for l in p.stderr.splitlines() if "ERROR" in l or "SUMMARY" in l or "runtime error" in l
                or "Test unit written" in l]
        for line in tail[:12]:
            print(f"  {line}")
        for f in found:
            print(f"  input kept: {f} (replay: {binary} {f})")
    return ok, execs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, type=pathlib.Path)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--max-len", type=int, default=65536)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    failures = 0
    total = 0
    for t in a.targets:
        ok, execs = run_target(a.build, t, a.runs, a.seconds, a.max_len)
        failures += not ok
        total += execs
    print(f"fuzz: {len(a.targets)} targets, {total} executions; failures: {failures}", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
