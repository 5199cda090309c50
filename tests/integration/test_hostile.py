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
