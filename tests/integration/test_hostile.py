"""Hostile files: tradelearn never writes through a link, follows only
regular files, and gives every hostile line or file a defined outcome."""
import os
import stat
import time

import pytest

from conftest import append, canonical_close


@pytest.mark.parametrize("name", ["quarantine.jsonl", "outcomes/trade_outcomes.jsonl.zst", ".lock"])
def test_a_symlink_planted_in_state_is_refused_and_its_target_left_alone(root, tmp_path, name):
    append(root.logs / "attribution.jsonl", canonical_close(1) + "\n" + "not json\n")
    root.run("watch", "--once")
    target = tmp_path / "outside"
    target.write_text("precious\n")
    planted = root.state / name
    planted.unlink()
    planted.symlink_to(target)

    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1, p.stderr
    assert str(planted) in p.stderr and "symbolic link" in p.stderr, p.stderr
    assert target.read_text() == "precious\n"


def test_files_holding_the_bots_rows_are_not_world_readable(root):
    os.umask(0)
    try:
        append(root.logs / "attribution.jsonl", canonical_close(1) + "\n" + "not json\n")
        root.run("watch", "--once")
    finally:
        os.umask(0o022)
    for path in [root.state / "quarantine.jsonl", root.state / "outcomes" / "trade_outcomes.jsonl.zst",
                 root.state / "learning_processing_state.json"]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path} is {oct(mode)}"


def hostile_names(root):
    """A FIFO, a link to a character device and a folder at three logs' names."""
    os.mkfifo(root.logs / "signals.jsonl")
    (root.logs / "orders.jsonl").symlink_to("/dev/urandom")
    (root.logs / "exits.jsonl").mkdir()


def test_a_fifo_a_device_and_a_folder_at_logs_names_are_said_once_and_ignored_while_the_other_source_is_learned(root):
    from conftest import trade_ids
    hostile_names(root)
    append(root.logs / "attribution.jsonl", canonical_close(0) + "\n")
    p = root.run("watch", "--once", timeout=20)
    for name, kind in (("signals", "a FIFO"), ("orders", "a character device"), ("exits", "a folder")):
        said = [line for line in p.stderr.splitlines() if f"{name}.jsonl: is {kind}" in line]
        assert len(said) == 1, p.stderr
        assert "ignored until a regular file takes its name" in said[0]
    assert trade_ids(root.outcomes()) == ["T000000"]
    assert (root.state / "quarantine.jsonl").stat().st_size == 0
    assert root.run("verify", check=False).returncode == 0


def test_backfill_and_daily_skip_a_fifo_a_device_and_a_folder_at_logs_names_without_hanging(root):
    from conftest import trade_ids
    hostile_names(root)
    append(root.logs / "attribution.jsonl", canonical_close(0) + "\n")
    root.run("backfill", "--quiet", timeout=30)
    assert trade_ids(root.outcomes()) == ["T000000"]
    root.run("daily", check=False, timeout=30)


def test_a_daemon_with_a_fifo_at_a_logs_name_says_it_once_stops_on_sigterm_and_takes_the_regular_file_that_replaces_it(root):
    from conftest import trade_ids
    fifo = root.logs / "attribution.jsonl"
    os.mkfifo(fifo)
    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    time.sleep(2.5)  # past a rescan or two: still said once
    fifo.unlink()
    append(fifo, canonical_close(0) + "\n")
    assert root.wait_for(lambda: trade_ids(root.outcomes()) == ["T000000"], timeout=15)
    start = time.monotonic()
    rc, err = root.stop(w, timeout=10)
    assert rc == 0 and time.monotonic() - start < 5, err
    assert err.count("is a FIFO, not a regular file") == 1, err
    # The lock is free: another watch starts at once.
    root.run("watch", "--once", timeout=20)


def test_hostile_lines_are_quarantined_or_learned_as_documented_and_every_outcome_loads_in_python(root):
    from conftest import trade_ids
    def close(i, text=None):
        return text or canonical_close(i)
    deep = '{"n": ' * 1000 + '{}' + '}' * 1000
    lines = [
        "[" * 100000 + "]" * 100000,                                     # nested past the parser's depth
        canonical_close(2)[:-1] + ', "x": "\x00"}',                     # a raw NUL byte
        canonical_close(3).replace("AAPL", "AA\udcffPL"),                 # a byte that is not UTF-8
        canonical_close(4).replace('"pnl_usd": 1.5', '"pnl_usd": 1e999'),  # out of range
        canonical_close(5).replace('"pnl_usd": 1.5', '"pnl_usd": NaN'),    # NaN, bare
        canonical_close(6).replace('"pnl_usd": 1.5', '"pnl_usd": "NaN"'),  # NaN as text
        canonical_close(7)[:-1] + ', "pnl_usd": -3.0}',                  # a key given twice: the last
        canonical_close(8).replace('"order_flow": -0.2}', '"order_flow": -0.2, "deep": ' + deep + '}'),
        canonical_close(9).replace('"T000009"', '"T00\\u00000009"'),       # a text cut at an escaped NUL
        canonical_close(10).replace('"order_flow": -0.2}', '"order_flow": -0.2, "note": "a\\u0000b"}'),  # NUL where no one reads
    ]
    with open(root.logs / "attribution.jsonl", "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    root.run("watch", "--once")
    reasons = [(q["reason"], q["line_bytes"]) for q in root.quarantine()]
    assert [r for r, _ in reasons] == ["not_json"] * 5 + ["bad_value"] * 2, reasons
    outcomes = root.outcomes()  # json.loads of every line: none too deep
    assert trade_ids(outcomes) == ["T000007", "T000008", "T000010"]
    assert [o["pnl_usd"] for o in outcomes if o["trade_id"] == "T000007"] == [-3.0]
    assert root.run("verify", check=False).returncode == 0


def test_quarantine_keeps_a_bounded_prefix_of_a_rejected_line_with_its_length_and_hash_and_control_bytes_compact(root):
    import hashlib
    import json
    long_bad = "x" * 500000
    controls = "\x01" * 10000
    append(root.logs / "attribution.jsonl", long_bad + "\n" + controls + "\n")
    root.run("watch", "--once")
    rows = root.quarantine()
    assert [r["line_bytes"] for r in rows] == [500000, 10000]
    assert rows[0]["line_sha256"] == hashlib.sha256(long_bad.encode()).hexdigest()
    assert rows[0]["line"] == "x" * 1024
    assert rows[1]["line"] == "?" * 1024
    assert (root.state / "quarantine.jsonl").stat().st_size < 4096


def test_quarantine_is_capped_at_quarantine_max_bytes_and_what_was_dropped_is_counted(root):
    import json
    (root.path / "tradelearn.json").write_text(json.dumps({"quarantine_max_bytes": 65536}))
    append(root.logs / "attribution.jsonl", "".join(f"not json {i}\n" for i in range(2000)))
    root.run("watch", "--once")
    size = (root.state / "quarantine.jsonl").stat().st_size
    src = root.source("attribution")
    assert size <= 65536
    assert src["records_quarantined"] == 2000
    assert src["quarantine_dropped"] > 0
    assert len(root.quarantine()) + src["quarantine_dropped"] == 2000
    assert root.run("verify", check=False).returncode == 0
