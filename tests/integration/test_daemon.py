"""The daemon as a process: lock, signals, config, help."""
import json
import signal
import subprocess
import time

import pytest

from conftest import BIN, append, canonical_close, trade_ids


def test_second_watch_on_the_same_root_exits_75(root):
    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    p = root.run("watch", check=False, timeout=10)
    assert p.returncode == 75
    assert "already watching" in p.stderr
    rc, _ = root.stop(w)
    assert rc == 0


def test_sigterm_commits_and_exits_0(root):
    att = root.logs / "attribution.jsonl"
    total = 100000
    append(att, "".join(canonical_close(i) + "\n" for i in range(total)))
    w = root.start_watch()
    # Stopped in the middle of the work: after its first commit.
    assert root.wait_for(root.state_json, timeout=10, interval=0.005)
    rc, err = root.stop(w, signal.SIGTERM)
    assert rc == 0, err
    # Whatever it read, it committed: a restart finds exactly the rest.
    st = root.state_json()
    read = st["sources"]["attribution"]["records_read"]
    print(f"stopped after {read} of {total} lines")
    assert read == len(root.outcomes())
    root.run("watch", "--once")
    assert trade_ids(root.outcomes()) == [f"T{i:06d}" for i in range(total)]


def test_sigint_also_stops_cleanly(root):
    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    rc, _ = root.stop(w, signal.SIGINT)
    assert rc == 0


def test_sighup_reloads_the_config(root):
    att = root.logs / "attribution.jsonl"
    (root.path / "tradelearn.json").write_text(json.dumps({"max_line_bytes": 1000000}))
    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    (root.path / "tradelearn.json").write_text(json.dumps({"max_line_bytes": 2000}))
    w.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    append(att, json.dumps({"event": "close", "pad": "x" * 5000}) + "\n" + canonical_close(1) + "\n")
    assert root.wait_for(lambda: len(root.outcomes()) == 1)
    rc, err = root.stop(w)
    assert rc == 0
    assert "config reloaded" in err
    assert root.source()["skipped_by_reason"]["long_line"] == 1


@pytest.mark.parametrize("text, reason", [
    ('{"batch_lines": "many"}',
     "tradelearn.json:1: batch_lines: must be an integer from 1 to 1000000"),
    ('{\n  "rescan_interval_ms": 9223372036854775807\n}\n',
     "tradelearn.json:2: rescan_interval_ms: must be an integer from 10 to 3600000"),
])
def test_sighup_with_a_bad_config_keeps_the_running_one_and_says_why_in_one_line(
        root, text, reason):
    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    (root.path / "tradelearn.json").write_text(text)
    w.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert w.poll() is None
    append(root.logs / "attribution.jsonl", canonical_close(1) + "\n")
    assert root.wait_for(lambda: len(root.outcomes()) == 1)
    rc, err = root.stop(w)
    assert rc == 0
    # One line says both that the reload was refused and why. (A scheduled
    # job started meanwhile reads the file itself, and says so in its own.)
    hup = [line for line in err.splitlines() if line.startswith("tradelearn: SIGHUP")]
    assert len(hup) == 1, err
    assert "the config was not reloaded (the running one stays)" in hup[0]
    assert reason in hup[0]
    assert not [line for line in err.splitlines() if line.startswith("tradelearn: bad config")]


def test_bad_config_is_refused_with_the_key_and_its_line(root):
    (root.path / "tradelearn.json").write_text(
        '{\n  "profile": "canonical",\n  "batch_line": 10\n}\n')
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1
    assert "tradelearn.json:3: batch_line: unknown key" in p.stderr


def test_bad_profile_in_the_config_names_the_offending_key(root):
    cfg = {"profile": "mybot", "profiles": {"mybot": {"pnl_unit": "percent", "sources": {
        "attribution": {"file": "trades.jsonl", "kind": "close",
                        "fields": {"ts": "/t", "pnl_usdd": "/p"}}}}}}
    (root.path / "tradelearn.json").write_text(json.dumps(cfg, indent=2))
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1
    assert "profiles.mybot.sources.attribution.fields.pnl_usdd: unknown field" in p.stderr
    assert "tradelearn.json:" in p.stderr


def test_a_profile_from_the_config_maps_another_bot_without_c(root):
    cfg = {"profile": "otherbot", "profiles": {"otherbot": {
        "pnl_unit": "percent", "position": "symbol",
        "sources": {"attribution": {
            "file": "fills.jsonl",
            "kind": {"pointer": "/what", "equals": {"ENTRY": "open", "EXIT": "close"}},
            "key": ["/id"],
            "fields": {"ts": "/when", "symbol": "/ticker", "side": "/dir",
                       "pnl_usd": "/result/usd", "pnl_pct": "/result/pct"}}}}}}
    (root.path / "tradelearn.json").write_text(json.dumps(cfg))
    root.profile = "otherbot"
    rows = [
        {"what": "ENTRY", "id": "a1", "when": 1770300000, "ticker": "XOM", "dir": "buy"},
        {"what": "EXIT", "id": "a2", "when": 1770303600, "ticker": "XOM", "dir": "buy",
         "result": {"usd": 12.5, "pct": 1.25}},
        {"what": "HEARTBEAT", "when": 1770303601},
    ]
    append(root.logs / "fills.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    root.run("watch", "--once")
    out = root.outcomes()
    assert len(out) == 1
    assert out[0]["trade_id"] == "a2" and out[0]["pnl_frac"] == pytest.approx(0.0125)
    assert out[0]["exit_ts"] == "2026-02-05T15:00:00.000000Z"
    assert root.source()["skipped_by_reason"]["ignored"] == 1


@pytest.mark.parametrize("command", ["watch", "status", "verify", "simulate"])
def test_every_command_has_help(command):
    p = subprocess.run([BIN, command, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    assert "usage: tradelearn" in p.stdout


def test_version_and_usage_errors():
    p = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("tradelearn ")
    assert subprocess.run([BIN, "frobnicate"], capture_output=True).returncode == 2
    assert subprocess.run([BIN], capture_output=True).returncode == 2
    assert subprocess.run([BIN, "status", "--bogus"], capture_output=True).returncode == 2


def test_status_json_reports_offset_size_and_lag(root):
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(1) + "\n")
    root.run("watch", "--once")
    append(att, canonical_close(2) + "\n")
    st = json.loads(root.run("status", "--json").stdout)
    a = st["sources"]["attribution"]
    assert a["offset"] == len(canonical_close(1)) + 1
    assert a["size"] == att.stat().st_size
    assert a["lag_bytes"] == len(canonical_close(2)) + 1
    assert a["records_read"] == 1 and a["records_learned"] == 1
    root.run("watch", "--once")
    st = json.loads(root.run("status", "--json").stdout)
    assert st["sources"]["attribution"]["lag_bytes"] == 0
    assert st["trades_recorded"] == 2
    assert st["last_commit"]
    human = root.run("status").stdout
    assert "attribution" in human and "trades recorded: 2" in human


def _stderr_through_a_terminal(args):
    import os
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(timeout=120) == 0
    return out.decode()


def test_a_terminal_sees_progress_while_catching_up_and_a_pipe_does_not(root, tmp_path):
    root.run("simulate", "--days", "15", "--seed", "2")
    assert sum(f.stat().st_size for f in root.logs.iterdir()) > 4 << 20
    tty = _stderr_through_a_terminal(root.args("watch", "--once"))
    assert "\rtradelearn: catching up: 100% (" in tty
    assert " MiB)\r\n" in tty
    # Again from scratch, stderr to a pipe (a journal): plain lines only.
    twin = type(root)(tmp_path / "twin")
    twin.run("simulate", "--days", "15", "--seed", "2")
    p = twin.run("watch", "--once")
    assert "catching up" not in p.stderr and "\r" not in p.stderr
    assert twin.outcomes() == root.outcomes()


def test_only_watch_creates_the_default_logs_folder(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for command in (["status"], ["verify"], ["report"]):
        p = subprocess.run([BIN, "--root", str(bare), *command], capture_output=True, text=True)
        assert p.returncode == 1
        assert f"logs folder {bare}/logs does not exist" in p.stderr
        assert not (bare / "logs").exists()
    p = subprocess.run([BIN, "--root", str(bare), "watch", "--once"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (bare / "logs").is_dir()


def test_the_lock_is_held_through_every_sighup_reload(root):
    """No other process can take the state folder between a reload's close
    and reopen: an outsider trying flock all along never gets it."""
    import fcntl

    w = root.start_watch()
    assert root.wait_for(lambda: (root.state / "health.json").exists())
    taken = 0
    with open(root.state / ".lock", "r+") as lock:
        for _ in range(60):
            w.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 0.05
            while time.monotonic() < deadline:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                taken += 1
                fcntl.flock(lock, fcntl.LOCK_UN)
    assert w.poll() is None, "watch stopped during its reloads"
    rc, err = root.stop(w)
    assert rc == 0, err
    assert err.count("config reloaded") >= 1
    assert taken == 0, f"the lock was free {taken} times during reloads"


def test_a_start_keeps_the_temp_files_of_live_writers_and_removes_abandoned_ones(root):
    """A `daily` writing state/knobs.json.tmp.<its pid> beside a starting
    watch keeps its file; the temp file of a process that is gone is swept."""
    root.run("watch", "--once")
    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        kept = root.state / f"knobs.json.tmp.{live.pid}"
        swept = root.state / f"knobs.json.tmp.{dead.pid}"
        kept.write_text("half")
        swept.write_text("half")
        root.run("watch", "--once")
        assert kept.exists()
        assert not swept.exists()
    finally:
        live.kill()
        live.wait()
