"""The follower while watch runs: appends, partial lines, long lines, malformed rows."""
import json
import signal
import time

from conftest import append, canonical_close, canonical_open, trade_ids


def test_appended_closes_appear_as_outcomes_within_a_second(root):
    att = root.logs / "attribution.jsonl"
    att.write_text("")
    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists(), timeout=10)
    for i in range(5):
        append(att, canonical_open(i) + "\n")
    for i in range(5):
        start = time.monotonic()
        append(att, canonical_close(i) + "\n")
        got = root.wait_for(lambda: len(root.outcomes()) == i + 1, timeout=1.0, interval=0.01)
        assert got, f"close {i} not recorded within a second"
        assert time.monotonic() - start < 1.0
    rc, err = root.stop(w)
    assert rc == 0, err
    assert trade_ids(root.outcomes()) == [f"T{i:06d}" for i in range(5)]


def test_partial_line_waits_for_its_newline_and_is_read_once_across_a_restart(root):
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(1) + "\n")
    line = canonical_close(2)
    half = len(line) // 2
    append(att, line[:half])
    root.run("watch", "--once")
    assert trade_ids(root.outcomes()) == ["T000001"]
    src = root.source()
    # The offset stays at the start of the partial line.
    assert src["current"]["offset"] == len(canonical_close(1)) + 1
    # Restart in between: still nothing from the half line.
    w = root.start_watch()
    time.sleep(0.3)
    assert trade_ids(root.outcomes()) == ["T000001"]
    append(att, line[half:] + "\n")
    assert root.wait_for(lambda: len(root.outcomes()) == 2, timeout=5)
    root.stop(w)
    root.run("watch", "--once")
    assert trade_ids(root.outcomes()) == ["T000001", "T000002"]
    assert root.source()["records_quarantined"] == 0


def test_line_over_the_limit_is_skipped_counted_and_reading_goes_on(root):
    (root.path / "tradelearn.json").write_text(json.dumps({"max_line_bytes": 4096}))
    att = root.logs / "attribution.jsonl"
    huge = json.dumps({"event": "close", "junk": "x" * 20000})
    append(att, canonical_close(1) + "\n" + huge + "\n" + canonical_close(2) + "\n")
    w = root.start_watch()
    assert root.wait_for(lambda: len(root.outcomes()) == 2, timeout=5)
    # A long line arriving in pieces while watching.
    append(att, "{\"event\": \"close\", \"x\": \"" + "y" * 3000)
    time.sleep(0.2)
    append(att, "y" * 3000)
    time.sleep(0.2)
    append(att, "\"}\n" + canonical_close(3) + "\n")
    assert root.wait_for(lambda: len(root.outcomes()) == 3, timeout=5)
    rc, _ = root.stop(w)
    assert rc == 0
    src = root.source()
    assert src["skipped_by_reason"]["long_line"] == 2
    assert src["records_read"] == 5
    assert trade_ids(root.outcomes()) == ["T000001", "T000002", "T000003"]


def test_malformed_lines_are_quarantined_with_file_and_offset_and_the_daemon_goes_on(root):
    att = root.logs / "attribution.jsonl"
    good1 = canonical_close(1)
    bad_json = "this is not json {"
    truncated = canonical_close(2)[:40]
    not_object = "[1, 2, 3]"
    no_symbol = json.dumps({"ts": "2026-02-05T16:00:00Z", "event": "close", "trade_id": "T9",
                            "pnl_usd": 1.0})
    lines = [good1, bad_json, truncated, not_object, no_symbol]
    w = root.start_watch()
    time.sleep(0.2)
    append(att, "\n".join(lines) + "\n")
    append(att, canonical_close(3) + "\n")
    assert root.wait_for(lambda: len(root.outcomes()) == 2, timeout=5)
    assert w.poll() is None, "the daemon must keep running"
    rc, _ = root.stop(w)
    assert rc == 0
    q = root.quarantine()
    assert [r["reason"] for r in q] == ["not_json", "not_json", "not_object", "missing_field"]
    offsets, at = [], 0
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    assert [r["offset"] for r in q] == offsets[1:]
    assert all(r["file"] == str(att) for r in q)
    assert all(r["source"] == "attribution" for r in q)
    assert q[0]["line"] == bad_json
    assert root.source()["records_quarantined"] == 4
    assert trade_ids(root.outcomes()) == ["T000001", "T000003"]


def test_opens_never_count_as_trades(root):
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_open(i) + "\n" for i in range(10)))
    append(att, canonical_close(3, pnl=-2.0) + "\n")
    root.run("watch", "--once")
    out = root.outcomes()
    assert trade_ids(out) == ["T000003"]
    assert out[0]["pnl_usd"] == -2.0
    st = json.loads(root.run("status", "--json").stdout)
    assert st["trades_recorded"] == 1
    assert len(st["open_positions"]) == 9


def test_a_trade_recorded_once_is_not_recorded_again(root):
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(1) + "\n" + canonical_close(1) + "\n")
    root.run("watch", "--once")
    assert trade_ids(root.outcomes()) == ["T000001"]
    assert root.source()["skipped_by_reason"]["duplicate"] == 1


def test_polling_mode_follows_appends_and_rotation_without_inotify(root):
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(0) + "\n")
    w = root.start_watch("--poll")
    assert root.wait_for(lambda: len(root.outcomes()) == 1, timeout=5)
    append(att, canonical_close(1) + "\n")
    att.rename(root.logs / "attribution.jsonl.1")
    append(att, canonical_close(2) + "\n")
    assert root.wait_for(lambda: len(root.outcomes()) == 3, timeout=5)
    rc, err = root.stop(w)
    assert rc == 0
    assert "polling" in err
    assert trade_ids(root.outcomes()) == ["T000000", "T000001", "T000002"]


def test_an_inotify_queue_overflow_rescans_and_loses_nothing(root):
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_close(i) + "\n" for i in range(5)))
    w = root.start_watch()
    assert root.wait_for(lambda: len(root.outcomes()) == 5)
    # Stopped, it reads no events; the folder gets more of them than the
    # kernel queues (fs.inotify.max_queued_events, 16384 by default), and
    # meanwhile the log is appended to and rotated.
    w.send_signal(signal.SIGSTOP)
    try:
        limit = int(open("/proc/sys/fs/inotify/max_queued_events").read())
        noise = [root.logs / "noise.a", root.logs / "noise.b"]
        with open(noise[0], "a") as a, open(noise[1], "a") as b:
            for i in range(limit + 1000):
                f = a if i % 2 == 0 else b  # alternate: equal events would merge
                f.write("x")
                f.flush()
        append(att, "".join(canonical_close(i) + "\n" for i in range(5, 20)))
        (root.logs / "attribution.jsonl").rename(root.logs / "attribution.jsonl.1")
        append(att, "".join(canonical_close(i) + "\n" for i in range(20, 30)))
    finally:
        w.send_signal(signal.SIGCONT)
    assert root.wait_for(lambda: len(root.outcomes()) == 30, timeout=10)
    rc, err = root.stop(w)
    assert rc == 0, err
    assert "inotify queue overflowed" in err
    assert trade_ids(root.outcomes()) == [f"T{i:06d}" for i in range(30)]
    assert root.run("verify", check=False).returncode == 0
