"""Hostile files under the root: tradelearn never writes through a link."""
import os
import stat

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
