"""verify: the coverage audit agrees after normal runs and catches a skipped record."""
import json

from conftest import append, canonical_close, canonical_open, sealed


def test_verify_reports_no_mismatch_after_rotation_and_malformed_lines(root):
    att = root.logs / "attribution.jsonl"
    append(att, canonical_open(1) + "\n" + canonical_close(1) + "\nnot json\n")
    root.run("watch", "--once")
    att.rename(root.logs / "attribution.jsonl.1")
    append(att, canonical_close(2) + "\n")
    root.run("watch", "--once")
    p = root.run("verify", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "MISMATCH" not in p.stdout


def test_verify_reports_a_record_skipped_on_purpose(root):
    att = root.logs / "attribution.jsonl"
    lines = [canonical_close(i) for i in range(3)]
    append(att, lines[0] + "\n")
    root.run("watch", "--once")
    append(att, lines[1] + "\n" + lines[2] + "\n")
    # Skip one record on purpose: move the committed offset past line 1.
    path = root.state / "learning_processing_state.json"
    st = json.loads(path.read_text())
    st["sources"]["attribution"]["current"]["offset"] += len(lines[1]) + 1
    path.write_text(sealed(st))
    p = root.run("verify", check=False)
    assert p.returncode == 1
    assert "MISMATCH" in p.stdout
    assert "T000001" in p.stderr


def test_verify_reports_unprocessed_lines_as_pending_not_mismatch(root):
    att = root.logs / "attribution.jsonl"
    append(att, canonical_close(1) + "\n")
    root.run("watch", "--once")
    append(att, canonical_close(2) + "\n")
    p = root.run("verify", check=False)
    assert p.returncode == 0
    assert "(1 pending)" in p.stdout
