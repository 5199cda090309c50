"""Monitoring: status --check as a monitoring plugin."""
import json
import os
import subprocess

from conftest import append, canonical_close


def closes(a, b):
    return "".join(canonical_close(i) + "\n" for i in range(a, b))


def check(root, *args):
    p = root.run("status", "--check", *args, check=False)
    return p.returncode, p.stdout.splitlines()


def watching(root, n=10):
    append(root.logs / "attribution.jsonl", closes(0, n))
    w = root.start_watch()
    assert root.wait_for(lambda: len(root.outcomes()) == n)
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    return w


def test_check_says_ok_in_one_line_and_exits_0_when_watch_runs_caught_up(root):
    w = watching(root)
    rc, lines = check(root)
    assert rc == 0, lines
    assert len(lines) == 1 and lines[0].startswith(f"OK: watch running (pid {w.pid}), 4 sources")
    assert "lag 0 bytes" in lines[0]
    root.stop(w)


def test_check_exits_1_when_watch_is_not_running(root):
    w = watching(root)
    root.stop(w)
    rc, lines = check(root)
    assert rc == 1
    assert lines == [f"watch is not running on {root.path}"]


def test_check_names_each_lagging_source_with_its_lag_and_the_limit(root):
    w = watching(root)
    root.stop(w)
    text = closes(10, 20)
    append(root.logs / "attribution.jsonl", text)
    append(root.logs / "orders.jsonl", '{"ts": "2026-02-05T15:00:00Z"}\n' * 20)
    rc, lines = check(root)
    assert lines == [f"watch is not running on {root.path}"]  # under the default 1 MiB
    rc, lines = check(root, "--max-lag-bytes", "100")
    assert rc == 1
    att = str(root.logs / "attribution.jsonl")
    assert f"source attribution is {len(text)} bytes behind (limit 100): {att}" in lines
    assert any(line.startswith("source orders is ") for line in lines)
    assert len(lines) == 3


def test_check_complains_of_an_old_last_commit_only_when_asked(root):
    w = watching(root)
    st = root.state_json()
    rc, lines = check(root, "--max-commit-age", "3600")
    assert rc == 0, lines
    import time
    time.sleep(1.2)
    rc, lines = check(root, "--max-commit-age", "0")
    assert rc == 1
    assert len(lines) == 1 and lines[0].startswith("last commit ") and lines[0].endswith(
        " s ago (limit 0 s)"), lines
    root.stop(w)
    assert st


def test_check_reports_the_last_failed_run_of_a_job_and_of_a_hook(root):
    root.stop(watching(root))
    down = f"watch is not running on {root.path}"
    with open(root.state / "jobs.jsonl", "a") as f:
        for line in [
            {"job": "daily", "day": "2026-03-05", "attempt": 1, "start": "2026-03-05T21:05:00Z",
             "end": "2026-03-05T21:05:01Z", "status": "ok", "exit": 0, "signal": None,
             "error": None},
            {"job": "daily", "day": "2026-03-06", "attempt": 4, "start": "2026-03-06T21:05:00Z",
             "end": "2026-03-06T21:05:02Z", "status": "failed", "exit": 1, "signal": None,
             "error": "daily: state/reports is locked by another process"},
            {"job": "hook:deploy", "day": None, "attempt": 1, "start": "2026-03-08T06:00:00Z",
             "end": "2026-03-08T06:00:00Z", "status": "missing", "exit": None, "signal": None,
             "error": None},
            {"job": "retrain", "day": "2026-03-08", "attempt": 1, "start": "2026-03-08T06:00:00Z",
             "end": "2026-03-08T06:00:09Z", "status": "interrupted", "exit": None,
             "signal": 15, "error": None},
        ]:
            f.write(json.dumps(line) + "\n")
    rc, lines = check(root)
    assert rc == 1
    assert lines == [
        down,
        "job daily 2026-03-06 at 2026-03-06T21:05:02Z (attempt 4): "
        "daily: state/reports is locked by another process",
        "hook hook:deploy at 2026-03-08T06:00:00Z (attempt 1): missing",
    ]
    # A later good run clears it.
    append(root.state / "jobs.jsonl", json.dumps(
        {"job": "daily", "day": "2026-03-09", "attempt": 1, "start": "2026-03-09T21:05:00Z",
         "end": "2026-03-09T21:05:01Z", "status": "ok"}) + "\n")
    rc, lines = check(root)
    assert lines == [down, "hook hook:deploy at 2026-03-08T06:00:00Z (attempt 1): missing"]


def test_check_says_a_watch_that_stopped_writing_its_health_is_not_responding(root):
    w = watching(root)
    root.stop(w)
    # A live process (this test) that last wrote health.json long ago.
    health = json.loads((root.state / "health.json").read_text())
    health["pid"] = os.getpid()
    health["alive_at"] = "2026-01-01T00:00:00.000000Z"
    (root.state / "health.json").write_text(json.dumps(health))
    rc, lines = check(root)
    assert rc == 1
    assert len(lines) == 1 and lines[0].startswith(
        f"watch (pid {os.getpid()}) is not responding: state/health.json is "), lines


def test_check_with_json_gives_healthy_and_the_problems(root):
    append(root.logs / "attribution.jsonl", closes(0, 3))
    p = root.run("status", "--check", "--json", check=False)
    assert p.returncode == 1
    o = json.loads(p.stdout)
    assert o["healthy"] is False and o["problems"] == [f"watch is not running on {root.path}"]


def test_check_refuses_limits_that_are_not_whole_numbers(root):
    for args in (["--max-lag-bytes", "-1"], ["--max-lag-bytes"], ["--max-commit-age", "1h"]):
        p = root.run("status", "--check", *args, check=False)
        assert p.returncode == 2, args
        assert "wants a whole number" in p.stderr
