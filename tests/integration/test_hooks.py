"""Hooks: the commands run at events (a retrain due, a failed job), what they
receive, and that one that hangs, fails or does not exist never holds up
watch or the job.

Time is moved with TRADELEARN_TEST_CLOCK as in test_scheduler.py.
"""
import json
import time

from conftest import append, canonical_close, canonical_open, trade_ids
from test_scheduler import (hold_reports_lock, journal as all_runs, seed_journal, some_trades,
                            start, write_config)

RETRAIN_DUE_DAY = "2026-03-06"  # 29 days after the trades: "no retrain yet" fires
QUIET_DAY = "2026-02-05"  # the trades' own day: too few trades for any trigger


def journal(root, job):
    return [j for j in all_runs(root) if j["job"] == job]


def recording_hook(path, then=""):
    """A hook that appends its stdin (one event) to path, then runs `then`."""
    return ["/bin/sh", "-c", 'cat >> "$0"; echo >> "$0"; ' + then, str(path)]


def events(path):
    if not path.exists():
        return []
    dec, text, out, i = json.JSONDecoder(), path.read_text(), [], 0
    while text[i:].strip():
        while text[i].isspace():
            i += 1
        obj, i = dec.raw_decode(text, i)
        out.append(obj)
    return out


def learns_meanwhile(root, n):
    """A close appended now is recorded within seconds."""
    append(root.logs / "attribution.jsonl",
           canonical_open(n) + "\n" + canonical_close(n, pnl=3.0) + "\n")
    return root.wait_for(lambda: f"T{n:06d}" in trade_ids(root.outcomes()), timeout=5)


def test_a_daily_run_whose_report_says_retrain_due_fires_retrain_triggered(root):
    got = root.path / "events"
    some_trades(root)
    write_config(root, {"hooks": {"retrain_triggered": recording_hook(got)}})
    root.run("watch", "--once")
    root.run("daily", "--date", QUIET_DAY)
    assert events(got) == []  # no retrain due: no hook, no journal line
    assert journal(root, "hook:retrain_triggered") == []
    p = root.run("daily", "--date", RETRAIN_DUE_DAY)
    assert "retrain due" in p.stderr
    report = json.loads((root.state / "reports" / f"post_market_{RETRAIN_DUE_DAY}.json").read_text())
    assert report["retrain"]["triggered"]
    [event] = events(got)
    assert event["event"] == "retrain_triggered"
    assert event["day"] == RETRAIN_DUE_DAY
    assert event["reasons"] == report["retrain"]["reasons"]
    assert event["root"] == str(root.path.resolve())
    assert event["report"].endswith(f"state/reports/post_market_{RETRAIN_DUE_DAY}.json")
    assert event["reasons"][0] in event["text"]
    assert list(event)[:5] == ["event", "time", "host", "root", "text"]
    [run] = journal(root, "hook:retrain_triggered")
    assert run["status"] == "ok" and run["exit"] == 0 and run["day"] == RETRAIN_DUE_DAY


def test_a_hook_that_does_not_exist_is_journaled_as_missing_and_the_job_succeeds(root):
    some_trades(root)
    write_config(root, {"hooks": {"retrain_triggered": ["/nonexistent/alert"]}})
    root.run("watch", "--once")
    p = root.run("daily", "--date", RETRAIN_DUE_DAY, check=False)
    assert p.returncode == 0, p.stderr
    [run] = journal(root, "hook:retrain_triggered")
    assert run["status"] == "missing"
    assert run["exit"] is None
    assert "/nonexistent/alert" in run["error"]


def test_a_failing_scheduled_job_fires_job_failed_while_watch_keeps_learning(root):
    got = root.path / "events"
    some_trades(root)
    # The hook records the event, then hangs past its timeout.
    write_config(root, {"schedule": {"retry_backoff_s": 60, "max_retries": 1},
                        "hooks": {"timeout_s": 3, "job_failed": recording_hook(got, "sleep 60")}})
    seed_journal(root, "2026-03-05")
    holder = hold_reports_lock(root)  # the run fails
    w = start(root, "2026-03-09T14:00:00Z")  # Monday morning: Friday is due
    try:
        assert root.wait_for(lambda: events(got), timeout=20)
        [event] = events(got)
        failed = [j for j in journal(root, "daily") if j["status"] == "failed"][0]
        assert event["event"] == "job_failed"
        for key in ("job", "day", "attempt", "status", "exit", "signal", "error", "start", "end"):
            assert event[key] == failed[key], key
        assert event["job"] == "daily" and event["day"] == "2026-03-06"
        assert event["status"] == "failed" and event["exit"] == 1 and event["error"]
        assert event["retry_at"] > failed["end"]  # the retry, 60 s later
        assert "retry at" in event["text"]
        # The hook hangs now; watch learns meanwhile.
        assert learns_meanwhile(root, 50)
        hooked = root.wait_for(lambda: journal(root, "hook:job_failed"), timeout=10)
        assert hooked[0]["status"] == "timeout" and hooked[0]["signal"] == 9
        assert hooked[0]["error"] == "killed after 3 s"
        assert hooked[0]["day"] == "2026-03-06"
        assert learns_meanwhile(root, 51)
    finally:
        holder.close()
        t0 = time.monotonic()
        rc, err = root.stop(w)
    assert rc == 0, err
    assert time.monotonic() - t0 < 5
    # The hook's line is not a job run: the last job named in health.json is the daily.
    health = json.loads((root.state / "health.json").read_text())
    assert health["last_job"]["job"] == "daily"


def test_a_hanging_hook_of_a_scheduled_daily_is_killed_at_its_timeout_while_watch_learns(root):
    some_trades(root)
    write_config(root, {"hooks": {"timeout_s": 5,
                                  "retrain_triggered": ["/bin/sh", "-c", "sleep 60 & sleep 60"]}})
    seed_journal(root, "2026-03-05")
    w = start(root, "2026-03-06T21:04:58Z")  # Friday 16:04:58 EST
    try:
        # The daily job waits for its hook; watch does not.
        assert root.wait_for(lambda: (root.state / "reports" /
                                      f"post_market_{RETRAIN_DUE_DAY}.json").exists(), timeout=15)
        assert learns_meanwhile(root, 60)
        assert not journal(root, "hook:retrain_triggered")
        hooked = root.wait_for(lambda: journal(root, "hook:retrain_triggered"), timeout=10)
        assert hooked[0]["status"] == "timeout" and hooked[0]["signal"] == 9
        assert hooked[0]["end"] > hooked[0]["start"]
        daily = root.wait_for(lambda: [j for j in journal(root, "daily")
                                       if j["day"] == RETRAIN_DUE_DAY], timeout=10)
        assert daily[0]["status"] == "ok"  # the hook's fate is not the job's
        assert learns_meanwhile(root, 61)
    finally:
        rc, err = root.stop(w)
    assert rc == 0, err


def test_a_hook_with_an_empty_argv_is_refused_at_load_with_its_line(root):
    (root.path / "tradelearn.json").write_text(
        '{\n  "hooks": {\n    "timeout_s": 10,\n    "deploy": []\n  }\n}\n')
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1
    assert "tradelearn.json:4: hooks.deploy: must not be empty" in p.stderr
    (root.path / "tradelearn.json").write_text(
        '{\n  "hooks": {\n    "job_failed": ["/usr/bin/mail",\n      5]\n  }\n}\n')
    p = root.run("status", check=False)
    assert p.returncode == 1
    assert "tradelearn.json:3: hooks.job_failed[1]: must be a string" in p.stderr
