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


# ---- the Prometheus textfile (config metrics_file) ------------------------

import math
import re
import shutil
import time

SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_prom(text):
    """Parses the text exposition format strictly: {(name, labels): value}."""
    assert text.endswith("\n")
    helps, types, series = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_ = line[7:].split(" ", 1)
            assert name not in helps and help_
            helps[name] = help_
        elif line.startswith("# TYPE "):
            name, type_ = line[7:].split(" ")
            assert name in helps and name not in types, line
            assert type_ in ("counter", "gauge")
            assert (type_ == "counter") == name.endswith("_total"), line
            types[name] = type_
        else:
            m = SAMPLE.fullmatch(line)
            assert m, line
            name, labels = m.group(1), ()
            assert name in types, f"{name} has no TYPE line before it"
            if m.group(3):
                found = LABEL.findall(m.group(3))
                assert "".join(f'{k}="{v}"{s}' for k, v, s in found) == m.group(3), line
                labels = tuple((k, v) for k, v, _ in found)
            key = (name, labels)
            assert key not in series, f"{line} twice"
            value = float(m.group(4))
            if types[name] == "counter":
                assert value >= 0 and value == int(value), line
            series[key] = value
    assert all(name.startswith("tradelearn_") for name in types)
    return series


def metrics_root(root):
    (root.path / "textfile").mkdir()
    (root.path / "tradelearn.json").write_text(
        '{"metrics_file": "textfile/tradelearn.prom", "rescan_interval_ms": 100}\n')
    return root.path / "textfile" / "tradelearn.prom"


def read_prom(path):
    return parse_prom(path.read_text()) if path.exists() else {}


def test_the_metrics_file_has_every_figure_in_the_prometheus_text_format(root):
    prom = metrics_root(root)
    w = watching(root, 10)
    m = root.wait_for(lambda: read_prom(prom).get(("tradelearn_trades_recorded_total", ())) == 10
                      and read_prom(prom))
    assert m, prom.read_text() if prom.exists() else "no file"
    src = ("source", "attribution")
    assert m[("tradelearn_watch_running", ())] == 1
    assert m[("tradelearn_source_lag_bytes", (src,))] == 0
    assert m[("tradelearn_source_records_read_total", (src,))] == 10
    assert m[("tradelearn_source_records_learned_total", (src,))] == 10
    assert m[("tradelearn_source_records_quarantined_total", (src,))] == 0
    assert m[("tradelearn_source_records_skipped_total", (src,))] == 0
    assert {labels for name, labels in m if name == "tradelearn_source_lag_bytes"} == {
        (("source", s),) for s in ("attribution", "exit", "signals", "orders")}
    assert m[("tradelearn_model_trades_scored_total", ())] == 10
    for name in ("tradelearn_model_auc", "tradelearn_model_log_loss", "tradelearn_model_brier"):
        assert (name, ()) in m
    assert math.isnan(m[("tradelearn_model_auc", ())])  # ten wins: one class, no AUC yet
    assert 0 < m[("tradelearn_model_log_loss", ())] < 1
    assert abs(m[("tradelearn_last_commit_timestamp_seconds", ())] - time.time()) < 60
    assert math.isnan(m[("tradelearn_model_deployed_timestamp_seconds", ())])
    assert not [k for k in m if k[0] == "tradelearn_model_deployed_info"]
    assert prom.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in prom.parent.iterdir()) == ["tradelearn.prom"]

    append(root.logs / "attribution.jsonl", closes(10, 15))
    assert root.wait_for(lambda: read_prom(prom).get(
        ("tradelearn_trades_recorded_total", ())) == 15, timeout=15)
    rc, err = root.stop(w)
    assert rc == 0, err
    m = read_prom(prom)
    assert m[("tradelearn_watch_running", ())] == 0
    # Job runs by job and status, as state/jobs.jsonl has them.
    runs = {}
    jobs = root.state / "jobs.jsonl"
    for line in (jobs.read_text().splitlines() if jobs.exists() else []):
        j = json.loads(line)
        key = (("job", j["job"]), ("status", j["status"]))
        runs[key] = runs.get(key, 0) + 1
    assert {labels: v for (name, labels), v in m.items()
            if name == "tradelearn_job_runs_total"} == runs


def test_the_metrics_file_is_rewritten_at_most_every_five_seconds_while_trades_arrive(root):
    prom = metrics_root(root)
    w = watching(root, 5)
    assert root.wait_for(lambda: prom.exists())
    inodes, trades = {prom.stat().st_ino}, set()
    deadline = time.monotonic() + 6.5
    i = 5
    while time.monotonic() < deadline:
        append(root.logs / "attribution.jsonl", closes(i, i + 1))
        i += 1
        time.sleep(0.1)
        inodes.add(prom.stat().st_ino)  # each write is a rename of a new file
        trades.add(read_prom(prom)[("tradelearn_trades_recorded_total", ())])
    # Written at the start, then once or twice in 6.5 s, not after each commit.
    assert 2 <= len(inodes) <= 3, (len(inodes), sorted(trades))
    root.stop(w)


def test_promtool_accepts_the_metrics_file(root, tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        import pytest
        pytest.skip("promtool is not installed (Debian package prometheus)")
    prom = metrics_root(root)
    root.stop(watching(root, 10))
    p = subprocess.run([promtool, "check", "metrics"], input=prom.read_text(),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_metrics_file_not_ending_in_prom_is_refused_with_the_key_and_its_line(root):
    (root.path / "tradelearn.json").write_text('{\n  "metrics_file": "/var/lib/x/tl.txt"\n}\n')
    p = root.run("watch", "--once", check=False)
    assert p.returncode != 0
    assert f"{root.path}/tradelearn.json:2: metrics_file: " in p.stderr
    assert "a file path ending in .prom" in p.stderr


def test_a_metrics_file_that_cannot_be_written_is_said_once_and_watch_goes_on(root):
    (root.path / "tradelearn.json").write_text(
        '{"metrics_file": "missing-folder/tl.prom", "rescan_interval_ms": 100}\n')
    w = watching(root, 5)
    append(root.logs / "attribution.jsonl", closes(5, 8))
    assert root.wait_for(lambda: len(root.outcomes()) == 8)
    time.sleep(0.5)
    rc, err = root.stop(w)
    assert rc == 0
    said = [l for l in err.splitlines() if "missing-folder/tl.prom" in l]
    assert len(said) == 1 and said[0].endswith("(trying again while running)"), err
