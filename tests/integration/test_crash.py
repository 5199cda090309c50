"""kill -9 at random moments while the simulator appends and rotates; a
damaged state file or output at start."""
import json
import random
import signal
import subprocess
import time

import pytest

from conftest import BIN, Root, sealed

KILLS = 50


def by_id(outcomes):
    return {o["trade_id"]: o for o in outcomes}


def test_kill_9_fifty_times_while_the_simulator_appends_loses_nothing_and_learns_nothing_twice(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    truth_path = tmp_path / "truth.json"
    killed = Root(tmp_path / "killed")
    steady = Root(tmp_path / "steady")
    sim = subprocess.Popen([BIN, "--logs", str(logs), "simulate", "--live", "--rate", "400",
                            "--rotate-every", "1.5", "--max-records", "100000", "--seed", "11",
                            "--truth", str(truth_path)], stderr=subprocess.PIPE, text=True)
    time.sleep(0.2)
    uninterrupted = steady.start_watch("--logs", logs)
    rng = random.Random(20261120)
    try:
        for _ in range(KILLS):
            w = killed.start_watch("--logs", logs)
            time.sleep(rng.uniform(0.02, 0.5))
            w.send_signal(signal.SIGKILL)
            w.wait()
            assert w.returncode == -signal.SIGKILL
    finally:
        sim.send_signal(signal.SIGTERM)
        _, sim_err = sim.communicate(timeout=30)
    assert sim.returncode == 0, sim_err
    rc, err = steady.stop(uninterrupted)
    assert rc == 0, err
    killed.run("--logs", logs, "watch", "--once")
    steady.run("--logs", logs, "watch", "--once")

    truth = json.loads(truth_path.read_text())
    got, want = killed.outcomes(), steady.outcomes()
    # None twice.
    assert len(got) == len(by_id(got))
    # The same outcomes as the uninterrupted run, field for field.
    assert by_id(got) == by_id(want)
    # And what the simulator wrote.
    full = [o for o in got if o["partial"] == 1]
    assert len(full) == truth["closes"]
    assert len(got) - len(full) == truth["partial_closes"]
    assert sum(o["pnl_usd"] > 0 for o in full) == truth["wins"]
    assert abs(sum(o["pnl_usd"] for o in full) - truth["closes_pnl_usd"]) < 1e-6
    assert truth["closes"] > 100, "the simulator must have written enough to make this count"
    # Counters too: every line read once, every malformed line quarantined once.
    ks, ss = killed.state_json()["sources"], steady.state_json()["sources"]
    for name, lines in truth["lines_by_source"].items():
        assert (name, ss[name]["records_read"]) == (name, lines), "the uninterrupted run"
        assert (name, ks[name]["records_read"]) == (name, lines), "the killed run"
    for name in ks:
        for key in ("records_read", "records_learned", "records_quarantined", "records_skipped"):
            assert ks[name][key] == ss[name][key], (name, key)
    assert len(killed.quarantine()) == truth["malformed_lines"]
    v = killed.run("--logs", logs, "verify", check=False)
    assert v.returncode == 0, v.stdout + v.stderr


def test_an_uncommitted_tail_of_every_output_is_cut_back_on_start(root):
    from conftest import append, canonical_close, trade_ids
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_close(i) + "\n" for i in range(5)) + "bad line\n")
    root.run("watch", "--once")
    st = root.state_json()
    # What a crash between step 3 (outputs appended) and step 5 (state
    # renamed) leaves: bytes past the committed lengths, a stray temp file,
    # a generation file that was never committed.
    outputs = {"outcomes/trade_outcomes.jsonl.zst": b"\x28\xb5\x2f\xfd garbage frame",
               "quarantine.jsonl": b'{"half a quarantine line',
               "outcomes/trade_keys.bin": b"\x01\x02\x03"}
    for rel, junk in outputs.items():
        with open(root.state / rel, "ab") as f:
            f.write(junk)
    (root.state / "learning_processing_state.json.tmp.999").write_text("{")
    gen = st["generation"]
    (root.state / f"learner.{gen + 1}.json").write_text("{}")
    append(att, canonical_close(5) + "\n")
    p = root.run("watch", "--once")
    assert "cut back" in p.stderr
    for rel in outputs:
        size = (root.state / rel).stat().st_size
        assert size == root.state_json()["outputs"][rel]["length"]
    assert not (root.state / "learning_processing_state.json.tmp.999").exists()
    assert trade_ids(root.outcomes()) == [f"T{i:06d}" for i in range(6)]
    assert len(root.quarantine()) == 1
    assert root.run("verify", check=False).returncode == 0


def test_a_damaged_state_file_falls_back_to_the_previous_commit(root):
    from conftest import append, canonical_close, trade_ids
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(0) + "\n")
    root.run("watch", "--once")
    append(att, canonical_close(1) + "\n")
    root.run("watch", "--once")
    (root.state / "learning_processing_state.json").write_text('{"format": 1, "gener')
    p = root.run("watch", "--once")
    assert "previous version" in p.stderr
    # The previous commit knew one trade: the second is redone, once.
    assert trade_ids(root.outcomes()) == ["T000000", "T000001"]
    assert root.run("verify", check=False).returncode == 0


STATE = "learning_processing_state.json"
OUTCOMES = "outcomes/trade_outcomes.jsonl.zst"
QUARANTINE = "quarantine.jsonl"


def two_commits(root):
    """Two watch runs, each committing closes and a quarantined line: the
    state file is the second commit, its .prev the first."""
    from conftest import append, canonical_close
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(0) + "\n" + canonical_close(1) + "\nnot json, first\n")
    root.run("watch", "--once")
    append(att, canonical_close(2) + "\nnot json, second\n")
    root.run("watch", "--once")
    prev = json.loads((root.state / (STATE + ".prev")).read_text())
    assert prev["outputs"][QUARANTINE]["length"] > 0
    assert root.state_json()["generation"] == prev["generation"] + 1


def damage(root, how):
    """Rewrites the state file as the last commit with one key removed or of
    the wrong type, sealed again (as a tool that rewrote it would)."""
    st = root.state_json()
    if how == "missing outputs":
        del st["outputs"]
    else:
        st["sources"]["attribution"]["current"]["offset"] = "4113"
    (root.state / STATE).write_text(sealed(st))


def output_bytes(root):
    return {rel: (root.state / rel).read_bytes() for rel in (OUTCOMES, QUARANTINE)}


def test_a_state_file_with_format_99_is_refused_naming_the_file_and_the_reason(root):
    from conftest import append, canonical_close
    append(root.logs / "attribution.jsonl", canonical_close(0) + "\n")
    root.run("watch", "--once")
    assert not (root.state / (STATE + ".prev")).exists()
    (root.state / STATE).write_text('{"format": 99}')
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1, p.stderr
    message = [line for line in p.stderr.splitlines() if STATE in line]
    assert len(message) == 1, p.stderr
    assert message[0].count(STATE) == 1, message[0]
    assert f"{root.state / STATE}: format 99 is newer than this program's" in message[0]


@pytest.mark.parametrize("how", ["missing outputs", "a wrong-typed key"])
def test_a_damaged_state_file_with_a_whole_prev_resumes_from_it_in_one_line_and_cuts_nothing_committed(
        root, how):
    from conftest import trade_ids
    two_commits(root)
    prev = json.loads((root.state / (STATE + ".prev")).read_text())
    before = output_bytes(root)
    damage(root, how)
    p = root.run("watch", "--once")
    said = [line for line in p.stderr.splitlines() if "previous version" in line]
    assert len(said) == 1, p.stderr
    assert STATE in said[0]
    assert ("outputs" if how == "missing outputs" else "offset") in said[0], said[0]
    # What the .prev committed is still there, byte for byte; the batch after
    # it is redone, once.
    after = output_bytes(root)
    for rel in (OUTCOMES, QUARANTINE):
        length = prev["outputs"][rel]["length"]
        assert length > 0
        assert after[rel][:length] == before[rel][:length], rel
    assert trade_ids(root.outcomes()) == ["T000000", "T000001", "T000002"]
    assert len(root.quarantine()) == 2
    assert root.run("verify", check=False).returncode == 0


@pytest.mark.parametrize("how", ["missing outputs", "a wrong-typed key"])
def test_a_damaged_state_file_without_prev_is_refused_by_watch_status_and_verify_leaving_the_outputs_untouched(
        root, how):
    two_commits(root)
    (root.state / (STATE + ".prev")).unlink()
    damage(root, how)
    before = output_bytes(root)
    for command in ("watch", "status", "verify"):
        args = ("watch", "--once") if command == "watch" else (command,)
        p = root.run(*args, check=False)
        assert p.returncode == 1, (command, p.stdout, p.stderr)
        assert str(root.state / STATE) in p.stderr, (command, p.stderr)
        assert "restore it from a backup, or remove it to start over" in p.stderr, p.stderr
        assert output_bytes(root) == before, command


def test_a_state_file_edited_by_hand_fails_its_checksum_and_the_start_resumes_from_prev(root):
    from conftest import trade_ids
    two_commits(root)
    prev = json.loads((root.state / (STATE + ".prev")).read_text())
    text = (root.state / STATE).read_text()
    length = root.state_json()["outputs"][OUTCOMES]["length"]
    # One digit dropped from the outcomes' length, nothing else touched.
    edited = text.replace(f'"length": {length}', f'"length": {str(length)[:-1]}')
    assert edited != text
    (root.state / STATE).write_text(edited)
    p = root.run("watch", "--once")
    said = [line for line in p.stderr.splitlines() if "previous version" in line]
    assert len(said) == 1 and "checksum" in said[0], p.stderr
    assert trade_ids(root.outcomes()) == ["T000000", "T000001", "T000002"]
    assert subprocess.run(["zstd", "-tq", str(root.state / OUTCOMES)]).returncode == 0
    assert root.state_json()["generation"] == prev["generation"] + 1


def test_a_state_file_keeps_its_checksum_as_the_readme_describes(root):
    from conftest import append, canonical_close
    append(root.logs / "attribution.jsonl", canonical_close(0) + "\n")
    root.run("watch", "--once")
    text = (root.state / STATE).read_text()
    assert sealed(json.loads(text)) == text


@pytest.mark.parametrize("cut", [1, 5])
def test_an_outcomes_length_that_is_not_a_frame_boundary_is_refused_by_watch_status_and_verify_and_nothing_is_cut(
        root, cut):
    two_commits(root)
    (root.state / (STATE + ".prev")).unlink()
    st = root.state_json()
    st["outputs"][OUTCOMES]["length"] -= cut
    (root.state / STATE).write_text(sealed(st))
    before = output_bytes(root)
    for args in (("watch", "--once"), ("status",), ("verify",)):
        p = root.run(*args, check=False)
        assert p.returncode == 1, (args, p.stdout, p.stderr)
        assert "frame boundary" in p.stderr and str(root.state / OUTCOMES) in p.stderr, p.stderr
        assert "nothing was cut" in p.stderr, p.stderr
        assert output_bytes(root) == before, args


def test_a_quarantine_length_that_does_not_end_a_line_is_refused_and_nothing_is_cut(root):
    two_commits(root)
    (root.state / (STATE + ".prev")).unlink()
    st = root.state_json()
    st["outputs"][QUARANTINE]["length"] -= 3
    (root.state / STATE).write_text(sealed(st))
    before = output_bytes(root)
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1, p.stderr
    assert "does not end a line" in p.stderr, p.stderr
    assert output_bytes(root) == before


def test_a_torn_frame_after_the_last_commit_is_cut_back_and_reported_as_a_torn_frame_of_its_size(root):
    from conftest import trade_ids
    two_commits(root)
    whole = (root.state / OUTCOMES).read_bytes()
    with open(root.state / OUTCOMES, "ab") as f:
        f.write(whole[:37])  # the start of a frame, as a crash mid-append leaves it
    p = root.run("watch", "--once")
    assert f"{OUTCOMES}: cut back a torn frame of 37 bytes after the last commit" in p.stderr, p.stderr
    assert (root.state / OUTCOMES).read_bytes() == whole
    assert trade_ids(root.outcomes()) == ["T000000", "T000001", "T000002"]


def test_status_says_what_a_start_would_cut_back_and_cuts_nothing(root):
    two_commits(root)
    with open(root.state / QUARANTINE, "ab") as f:
        f.write(b'{"half a line')
    before = output_bytes(root)
    p = root.run("status")
    assert f"{QUARANTINE}: a start cuts back 13 bytes after the last commit (0 lines, then a torn one)" in p.stderr, p.stderr
    assert output_bytes(root) == before


def test_a_state_file_without_a_checksum_is_accepted_once_and_sealed_by_the_next_commit(root):
    from conftest import append, canonical_close, trade_ids
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(0) + "\n")
    root.run("watch", "--once")
    st = root.state_json()
    del st["checksum"]
    (root.state / STATE).write_text(json.dumps(st, indent=2))  # as an earlier version wrote it
    append(att, canonical_close(1) + "\n")
    p = root.run("watch", "--once")
    assert "has no checksum (written by an earlier version): accepted" in p.stderr, p.stderr
    assert trade_ids(root.outcomes()) == ["T000000", "T000001"]
    text = (root.state / STATE).read_text()
    assert sealed(json.loads(text)) == text


def test_a_checksum_removed_beside_a_sealed_prev_is_damage_and_the_start_resumes_from_prev(root):
    from conftest import trade_ids
    two_commits(root)
    st = root.state_json()
    del st["checksum"]
    (root.state / STATE).write_text(json.dumps(st, indent=2))
    p = root.run("watch", "--once")
    assert "checksum is missing (its previous version has one); resumed from its previous version" in p.stderr, p.stderr
    assert trade_ids(root.outcomes()) == ["T000000", "T000001", "T000002"]


def test_a_state_file_with_a_key_given_twice_is_damaged(root):
    two_commits(root)
    (root.state / (STATE + ".prev")).unlink()
    text = (root.state / STATE).read_text()
    text = text.replace('"generation":', '"generation": 0,\n  "generation":', 1)
    (root.state / STATE).write_text(text)
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1 and "duplicate" in p.stderr, p.stderr


def test_verify_fails_when_a_committed_offset_was_moved_back_by_hand(root):
    from conftest import append
    sig = root.logs / "signals.jsonl"
    lines = [json.dumps({"ts": f"2026-11-20T14:{i:02d}:00Z", "signal_id": f"S{i}", "symbol": "AAPL",
                         "confidence": 0.7, "price": 100.0 + i}) for i in range(6)]
    append(sig, "".join(line + "\n" for line in lines))
    root.run("watch", "--once")
    assert root.run("verify", check=False).returncode == 0
    st = root.state_json()
    cur = st["sources"]["signals"]["current"]
    # Back to the start of the third line: those after it would be learned twice.
    cur["offset"] = sum(len(line) + 1 for line in lines[:2])
    (root.state / STATE).write_text(sealed(st))
    (root.state / (STATE + ".prev")).unlink(missing_ok=True)
    v = root.run("verify", check=False)
    assert v.returncode == 1, v.stdout + v.stderr
    assert "is not where reading stopped" in v.stderr, v.stderr
    assert "signals" in v.stdout and "MISMATCH" in v.stdout, v.stdout


def test_a_learned_state_edited_behind_its_seal_is_refused_by_every_command_that_reads_it(root):
    from conftest import append, canonical_close, canonical_open
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_open(i) + "\n" + canonical_close(i, pnl=1.5 - i) + "\n"
                        for i in range(6)))
    root.run("watch", "--once")
    st = root.state_json()
    gen_path = root.state / st["learner_file"]
    gen_path.write_text(gen_path.read_text().replace('"learner"', '"learner" ', 1))
    want = f"{st['learner_file']}: damaged: its SHA-256 is not the one the state file names"
    for args in (("daily", "--date", "2026-02-05"), ("retrain", "--force"), ("score",),
                 ("status",), ("verify",), ("watch", "--once")):
        p = subprocess.run([BIN, "--root", str(root.path), *args], input="{}\n",
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0, (args, p.stdout, p.stderr)
        assert want in p.stderr, (args, p.stderr)
