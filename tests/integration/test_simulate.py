"""The simulator: deterministic, truthful, both profiles."""
import json
import subprocess

import pytest

from conftest import BIN, Root


def sim(root, *args):
    return root.run("simulate", *args)


def test_simulate_is_deterministic_for_a_seed(tmp_path):
    a, b = Root(tmp_path / "a"), Root(tmp_path / "b")
    sim(a, "--days", "5", "--seed", "3")
    sim(b, "--days", "5", "--seed", "3")
    for name in ("attribution.jsonl", "exits.jsonl", "signals.jsonl", "orders.jsonl"):
        assert (a.logs / name).read_bytes() == (b.logs / name).read_bytes()
    c = Root(tmp_path / "c")
    sim(c, "--days", "5", "--seed", "4")
    assert (a.logs / "attribution.jsonl").read_bytes() != (c.logs / "attribution.jsonl").read_bytes()


@pytest.mark.parametrize("profile", ["canonical", "stock-bot"])
def test_what_watch_learns_equals_the_simulators_truth(tmp_path, profile):
    r = Root(tmp_path / "r", profile=profile)
    truth_path = tmp_path / "truth.json"
    sim(r, "--days", "20", "--seed", "1", "--truth", truth_path)
    truth = json.loads(truth_path.read_text())
    r.run("watch", "--once")
    out = r.outcomes()
    full = [o for o in out if o["partial"] == 1]
    assert len(full) == truth["closes"]
    assert len(out) - len(full) == truth["partial_closes"]
    assert sum(o["pnl_usd"] > 0 for o in full) == truth["wins"]
    assert sum(o["pnl_usd"] for o in full) == pytest.approx(truth["closes_pnl_usd"], abs=1e-6)
    st = r.state_json()
    quarantined = sum(s["records_quarantined"] for s in st["sources"].values())
    assert quarantined == truth["malformed_lines"] > 0
    assert 0.6 < truth["oracle_auc"] < 0.95
    assert 0.6 < truth["oracle_auc_second_half"] < 0.95
    assert any(w == 0 for w in truth["components"].values())
    # The bot's score comes from its own weights, not the planted ones.
    assert set(truth["bot_weights"]) == set(truth["components"])
    assert truth["bot_weights"] != truth["components"]
    assert r.run("verify", check=False).returncode == 0


def test_simulate_rejects_bad_arguments(tmp_path):
    r = Root(tmp_path / "r")
    assert r.run("simulate", "--days", "zero", check=False).returncode == 2
    assert r.run("simulate", "--profile", "nope", check=False).returncode == 2
