#!/usr/bin/env python3
"""Includes go one way: cmd -> jobs -> lib, and lib never above itself.

Every folder has a rank; a file may include headers of its own folder and
of folders of a lower rank, nothing else. The ranks are the data flow of
the README's map ("How the code is laid out"). Exits 1, naming each file
and include that breaks the rule.
"""
import os
import re
import sys

RANKS = {
    "lib/base": 0,  # errors, buffers, JSON text, durable files, time
    "lib/ingest": 1,  # logs in: follower, rotated files, profiles, records
    "lib/store": 2,  # what is committed: frame logs, outcomes, the state file
    "lib/learn": 3,  # the online learner, weights, signal outcomes
    "lib/analyze": 4,  # metrics, knobs, missed opportunities
    "lib/report": 4,  # report writers
    "lib/models": 5,  # model bundles, registry
    "lib/config": 6,  # the config file, reading every module's table
    "jobs/live": 10,  # the daemon's core: read, apply, commit
    "jobs/daily": 11,
    "jobs/retrain": 11,
    "jobs/runner": 12,  # the scheduler
    "jobs/backfill": 12,
    "cmd/sim": 15,  # the simulator, a tool of the program
    "cmd": 20,
}

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
problems = []
for root in ("lib", "jobs", "cmd"):
    for folder, _, names in os.walk(os.path.join(top, root)):
        rel = os.path.relpath(folder, top)
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(rel, name)
            if rel not in RANKS:
                problems.append(f"{path}: folder {rel} has no rank in tests/lint/includes.py")
                continue
            with open(os.path.join(top, path), encoding="utf-8") as f:
                text = f.read()
            for target in include.findall(text):
                dest = os.path.dirname(target)
                if dest == rel:
                    continue
                if dest not in RANKS:
                    problems.append(f"{path}: includes \"{target}\": name headers by their path from the top")
                elif RANKS[dest] >= RANKS[rel]:
                    problems.append(f"{path}: includes \"{target}\": {rel} may not include {dest}")
for p in problems:
    print(p, file=sys.stderr)
if problems:
    sys.exit(1)
print("includes: every file includes only its own folder and the layers below it")
