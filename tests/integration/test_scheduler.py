"""The job runner inside watch: the schedule, catch-up, retries, the calendar.

Time is controlled with TRADELEARN_TEST_CLOCK: the schedule's clock starts at
the instant given and runs at the real pace, so a test stands two seconds
before 16:05 New York time on the day it wants.
"""
import fcntl
import json
import os
import subprocess
import time

from conftest import BIN, Root, append, canonical_close, canonical_open, trade_ids


def start(root, clock, *args):
    env = dict(os.environ, TRADELEARN_TEST_CLOCK=clock)
    p = subprocess.Popen(root.args("watch", *args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    root.procs.append(p)
    return p


def journal(root):
    path = root.state / "jobs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def daily_runs(root, status=None):
    return [j for j in journal(root) if j["job"] == "daily" and (status is None or j["status"] == status)]


def seed_journal(root, *days):
    """A journal saying the daily job already ran for these days."""
    root.state.mkdir(parents=True, exist_ok=True)
    with open(root.state / "jobs.jsonl", "a") as f:
        for d in days:
            f.write(json.dumps({"job": "daily", "day": d, "attempt": 1, "start": d + "T21:05:00Z",
                                "end": d + "T21:05:01Z", "status": "ok", "exit": 0,
                                "signal": None, "error": None}) + "\n")


def write_config(root, cfg):
    (root.path / "tradelearn.json").write_text(json.dumps(cfg))


def hold_reports_lock(root):
    """Another daily holds the reports' lock (until the file returned is
    closed): a daily run fails."""
    reports = root.state / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    holder = open(reports / ".lock", "w")
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return holder


def some_trades(root):
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_open(i) + "\n" + canonical_close(i, pnl=(-1) ** i * 2.0) + "\n"
                        for i in range(1, 6)))


def test_daily_fires_at_1605_new_york_on_a_weekday(root):
    some_trades(root)
    seed_journal(root, "2026-03-05")
    w = start(root, "2026-03-06T21:04:58Z")  # Friday 16:04:58 EST
    try:
        assert root.wait_for(lambda: daily_runs(root)[-1]["day"] == "2026-03-06", timeout=15)
        run = daily_runs(root)[-1]
        assert run["day"] == "2026-03-06"
        assert run["start"] >= "2026-03-06T21:05:00"  # not before the slot
        assert run["start"] < "2026-03-06T21:05:05"
        assert run["attempt"] == 1 and run["exit"] == 0
        assert (root.state / "reports" / "post_market_2026-03-06.json").exists()
        # health.json names the last job run: the daily, or the retrain its
        # report queued (29 days of data and no retrain yet).
        def last_job():
            h = json.loads((root.state / "health.json").read_text())
            runs = [j for j in journal(root) if not j["job"].startswith("hook:")]
            return h["last_job"] if h["last_job"] and h["last_job"] == runs[-1] else None
        last = root.wait_for(last_job, timeout=10)
        assert last["status"] == "ok"
        assert last["day"] == "2026-03-06" or last["job"] == "retrain"
    finally:
        rc, err = root.stop(w)
    assert rc == 0, err


def test_daily_does_not_fire_on_a_weekend(root):
    some_trades(root)
    seed_journal(root, "2026-03-06")
    w = start(root, "2026-03-07T21:04:58Z")  # Saturday 16:04:58
    try:
        time.sleep(4)
        assert [r["day"] for r in daily_runs(root)] == ["2026-03-06"]
    finally:
        rc, err = root.stop(w)
    assert rc == 0, err
    assert not (root.state / "reports" / "post_market_2026-03-07.json").exists()


def test_daily_follows_daylight_saving_time(root):
    """New York moves to EDT on 2026-03-08: 16:05 is then 20:05 UTC, not 21:05."""
    some_trades(root)
    seed_journal(root, "2026-03-06")
    w = start(root, "2026-03-09T20:04:58Z")  # Monday 16:04:58 EDT
    try:
        assert root.wait_for(lambda: daily_runs(root)[-1]["day"] == "2026-03-09", timeout=15)
        assert daily_runs(root)[-1]["start"] >= "2026-03-09T20:05:00"
    finally:
        root.stop(w)
    # And back to EST on 2026-11-01: Monday 2026-11-02 16:05 is 21:05 UTC, so
    # 20:05 UTC that day is 15:05 local and nothing fires.
    other = Root(root.path.parent / "fall")
    some_trades(other)
    seed_journal(other, "2026-10-30")
    w = start(other, "2026-11-02T20:04:58Z")
    try:
        time.sleep(4)
        assert [r["day"] for r in daily_runs(other)] == ["2026-10-30"]
    finally:
        other.stop(w)
        other.cleanup()


def test_missed_days_are_caught_up_once_oldest_first(root):
    some_trades(root)
    seed_journal(root, "2026-03-04")  # Wednesday; down Thursday and Friday
    clock = "2026-03-09T14:00:00Z"  # Monday 10:00 EDT, before Monday's slot
    w = start(root, clock)
    try:
        assert root.wait_for(lambda: len(daily_runs(root, "ok")) == 3, timeout=20)
        time.sleep(1)
    finally:
        root.stop(w)
    assert [r["day"] for r in daily_runs(root)] == ["2026-03-04", "2026-03-05", "2026-03-06"]
    # A restart runs nothing again.
    w = start(root, clock)
    try:
        time.sleep(3)
    finally:
        root.stop(w)
    assert [r["day"] for r in daily_runs(root)] == ["2026-03-04", "2026-03-05", "2026-03-06"]


def test_catch_up_is_bounded_by_the_config(root):
    some_trades(root)
    write_config(root, {"schedule": {"catch_up_days": 2}})
    seed_journal(root, "2026-02-20")
    w = start(root, "2026-03-09T14:00:00Z")
    try:
        assert root.wait_for(lambda: len(daily_runs(root, "ok")) == 3, timeout=20)
        time.sleep(1)
    finally:
        rc, err = root.stop(w)
    assert [r["day"] for r in daily_runs(root)] == ["2026-02-20", "2026-03-05", "2026-03-06"]
    assert "older than catch_up_days" in err


def test_a_failing_job_is_journaled_and_retried_while_the_follower_keeps_learning(root):
    some_trades(root)
    write_config(root, {"schedule": {"retry_backoff_s": 1, "max_retries": 3}})
    seed_journal(root, "2026-03-05")
    # Each attempt fails until the lock is released.
    holder = hold_reports_lock(root)
    w = start(root, "2026-03-09T14:00:00Z")  # Monday morning: Friday is due
    try:
        assert root.wait_for(lambda: len(daily_runs(root, "failed")) >= 2, timeout=20)
        failed = daily_runs(root, "failed")
        assert [r["attempt"] for r in failed[:2]] == [1, 2]
        assert all(r["day"] == "2026-03-06" and r["exit"] == 1 and r["error"] for r in failed)
        # The follower goes on meanwhile.
        att = root.logs / "attribution.jsonl"
        append(att, canonical_open(50) + "\n" + canonical_close(50, pnl=3.0) + "\n")
        assert root.wait_for(lambda: "T000050" in trade_ids(root.outcomes()), timeout=5)
        holder.close()  # released: the next retry succeeds
        assert root.wait_for(lambda: daily_runs(root, "ok")[-1]["day"] == "2026-03-06"
                             if len(daily_runs(root, "ok")) > 1 else False, timeout=20)
    finally:
        holder.close()
        rc, err = root.stop(w)
    assert rc == 0, err
    ok = daily_runs(root, "ok")[-1]
    assert ok["attempt"] == len(daily_runs(root, "failed")) + 1
    assert "retry" in err


def test_a_job_that_never_succeeds_is_given_up_after_its_retries(root):
    some_trades(root)
    write_config(root, {"schedule": {"retry_backoff_s": 0, "max_retries": 2}})
    seed_journal(root, "2026-03-05")
    (root.state / "reports").write_text("not a folder")  # every run fails
    w = start(root, "2026-03-09T14:00:00Z")
    try:
        assert root.wait_for(lambda: len(daily_runs(root, "failed")) == 3, timeout=20)
        time.sleep(2)
    finally:
        rc, err = root.stop(w)
    assert len(daily_runs(root, "failed")) == 3  # the first run and 2 retries
    assert "no retries left" in err
    # Next start: the day is given up, journaled once, not run again.
    w = start(root, "2026-03-09T14:00:00Z")
    try:
        time.sleep(2)
    finally:
        rc, err = root.stop(w)
    assert len(daily_runs(root, "failed")) == 3
    assert [r["status"] for r in daily_runs(root)][-1] == "skipped"


def test_every_day_calendar_in_utc_fires_on_a_saturday(root):
    some_trades(root)
    write_config(root, {"exchange_timezone": "UTC",
                        "schedule": {"trading_days": "every day", "daily": "23:55"}})
    seed_journal(root, "2026-03-06")
    w = start(root, "2026-03-07T23:54:58Z")  # Saturday
    try:
        assert root.wait_for(lambda: daily_runs(root)[-1]["day"] == "2026-03-07", timeout=15)
    finally:
        root.stop(w)
    assert daily_runs(root)[-1]["status"] == "ok"


def test_the_weekly_retrain_slot_runs_retrain_and_journals_it_ok(root):
    some_trades(root)
    seed_journal(root, "2026-03-06")
    w = start(root, "2026-03-08T05:59:58Z")  # Sunday 00:59:58 EST
    try:
        assert root.wait_for(lambda: [j for j in journal(root) if j["job"] == "retrain"],
                             timeout=15)
    finally:
        root.stop(w)
    r = [j for j in journal(root) if j["job"] == "retrain"][0]
    assert (r["status"], r["exit"], r["day"]) == ("ok", 0, "2026-03-08"), r
    assert r["start"] >= "2026-03-08T06:00:00"
    # Five trades are too few: the slot's retrain is a rejection that says so.
    decision = json.loads((root.state / "retrain_log.jsonl").read_text().splitlines()[-1])
    assert decision["trigger"] == "the weekly retrain slot"
    assert decision["event"] == "reject" and "outcomes in the window: 5" in decision["reasons"][0]


def test_a_daily_run_that_says_a_retrain_is_due_queues_one_while_watch_keeps_learning(tmp_path):
    root = Root(tmp_path / "root")
    root.run("simulate", "--days", 20, "--seed", 5)
    seed_journal(root, "2026-03-05")
    w = start(root, "2026-03-06T21:04:58Z")  # Friday 16:04:58 EST
    try:
        def retrain_runs():
            return [j for j in journal(root) if j["job"] == "retrain"]
        assert root.wait_for(lambda: daily_runs(root, "ok")[-1]["day"] == "2026-03-06"
                             if len(daily_runs(root, "ok")) > 1 else False, timeout=30)
        report = json.loads((root.state / "reports" / "post_market_2026-03-06.json").read_text())
        assert report["retrain"]["triggered"], report["retrain"]
        # The follower goes on while the retrain is queued and runs.
        att = root.logs / "attribution.jsonl"
        append(att, canonical_open(990001, ts="2026-03-06T21:05:01Z") + "\n" +
               canonical_close(990001, pnl=3.0, ts="2026-03-06T21:05:02Z") + "\n")
        assert root.wait_for(lambda: "T990001" in trade_ids(root.outcomes()), timeout=10)
        assert root.wait_for(retrain_runs, timeout=30)
    finally:
        rc, err = root.stop(w)
    assert rc == 0, err
    r = retrain_runs()[0]
    assert (r["status"], r["exit"], r["day"]) == ("ok", 0, None), r
    assert r["start"] >= daily_runs(root, "ok")[-1]["end"]
    decision = json.loads((root.state / "retrain_log.jsonl").read_text().splitlines()[-1])
    assert decision["trigger"].startswith("the daily report of 2026-03-06 says a retrain is due")
    assert decision["event"] == "deploy", decision["reasons"]
    assert (root.path / "models" / "current.json").exists()


def test_bad_schedule_in_the_config_is_refused_with_its_line(root):
    (root.path / "tradelearn.json").write_text('{\n  "schedule": {\n    "daily": "4pm"\n  }\n}\n')
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1
    assert "tradelearn.json:3: schedule.daily" in p.stderr
