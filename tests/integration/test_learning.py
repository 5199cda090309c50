"""What the short-term job learns: online model, multipliers, signal outcomes."""
import json
import math
import random
import signal
import subprocess
import time

import pytest

from conftest import BIN, FIXTURE, Root


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))


def auc_by_ranks(scores, labels):
    """Mann–Whitney AUC (pairs tied on the score count ½), by ranks."""
    r = ranks(scores)
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    return (sum(x for x, y in zip(r, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


def simulated(tmp_path, seed, days=60, config=None, profile="canonical"):
    r = Root(tmp_path / f"sim{seed}", profile=profile)
    truth_path = tmp_path / f"truth{seed}.json"
    r.run("simulate", "--days", days, "--seed", seed, "--truth", truth_path)
    truth = json.loads(truth_path.read_text())
    trades = truth["closes"] + truth["partial_closes"]
    cfg = {"learner": {"window": trades // 2}}
    cfg.update(config or {})
    (r.path / "tradelearn.json").write_text(json.dumps(cfg))
    r.run("watch", "--once")
    return r, truth


def online(r):
    return json.loads((r.path / "models" / "online.json").read_text())


@pytest.mark.parametrize("seed", [1, 2])
def test_planted_signal_is_recovered(tmp_path, seed):
    r, truth = simulated(tmp_path, seed)
    model = online(r)
    m = model["metrics"]
    trades = truth["closes"] + truth["partial_closes"]
    assert m["trades_scored"] == trades
    # The second half of the trades, in the order learned: the learner's
    # progressive window, and the set the simulator's oracle figure is over.
    assert m["window"]["trades"] == trades // 2
    half = r.outcomes()[trades - trades // 2:]
    assert len(half) == trades // 2
    won = [o["pnl_usd"] > 0 for o in half]
    oracle = truth["oracle_auc_second_half"]
    # The bot's own score and confidence rank the trades clearly worse than
    # the planted model: matching the oracle takes the components.
    score_only = auc_by_ranks([o["score"] for o in half], won)
    confidence_only = auc_by_ranks([o["confidence"] for o in half], won)
    learner = m["window"]["auc"]
    print(f"\nseed {seed}: 2nd half of {trades} trades: oracle AUC {oracle:.4f}, "
          f"learner {learner:.4f}, score only {score_only:.4f}, "
          f"confidence only {confidence_only:.4f} (oracle over full closes "
          f"{truth['oracle_auc']:.4f}, learner overall {m['auc']:.4f})")
    assert score_only <= oracle - 0.05
    assert confidence_only <= oracle - 0.05
    assert abs(learner - oracle) <= 0.03
    # Learned component weights rank like the planted ones.
    planted = truth["components"]
    learned = [model["numeric"][name]["weight"] for name in planted]
    rho = spearman(learned, list(planted.values()))
    print(f"seed {seed}: Spearman(learned, planted) = {rho:.3f}")
    assert rho >= 0.8
    # Multipliers: clearly positive planted weights end above 1, clearly
    # negative ones below, and the components that carry nothing near 1.
    sw = json.loads((r.state / "signal_weights.json").read_text())
    assert_multipliers_follow_the_planted_weights(sw["components"], planted, f"seed {seed}")
    # The file stays small: aggregates only.
    assert (r.state / "signal_weights.json").stat().st_size < 200_000


def assert_multipliers_follow_the_planted_weights(components, planted, label):
    mults = {name: components[name]["multiplier"] for name in planted}
    print(f"{label}: multipliers " + ", ".join(
        f"{name} {planted[name]:+.1f} → {mult:.2f}" for name, mult in mults.items()))
    for name, w in planted.items():
        if w >= 0.5:
            assert mults[name] > 1, (name, w, mults[name])
        elif w <= -0.5:
            assert mults[name] < 1, (name, w, mults[name])
        elif w == 0:
            assert 0.8 <= mults[name] <= 1.25, (name, mults[name])


@pytest.mark.parametrize("seed", [1, 2])
def test_stock_bot_multipliers_learn_components_that_never_change_sign(tmp_path, seed):
    # In the stock bot's layout most components are always positive and
    # toxicity_penalty is always <= 0: a component counts when it is above
    # its own running mean, so each of them still learns.
    r, truth = simulated(tmp_path, seed, days=40, profile="stock-bot")
    outcomes = r.outcomes()
    planted = truth["components"]
    values = {name: [o["components"][name] for o in outcomes] for name in planted}
    assert min(values["flow"]) > 0 and max(values["toxicity_penalty"]) <= 0
    sw = json.loads((r.state / "signal_weights.json").read_text())["components"]
    for name in planted:
        assert sw[name]["samples"] > len(outcomes) // 4, name
    assert_multipliers_follow_the_planted_weights(sw, planted, f"stock-bot seed {seed}")
    # A stronger penalty precedes losses (planted +0.4 on the signed value):
    # the penalty is worth more, not less.
    assert sw["toxicity_penalty"]["multiplier"] > 1


def test_multiplier_changes_are_journaled_at_most_once_a_day(tmp_path):
    r, truth = simulated(tmp_path, 1, days=40)
    rows = [json.loads(l) for l in (r.state / "weight_learning.jsonl").read_text().splitlines()]
    assert rows, "some multiplier must have moved over 40 days"
    for row in rows:
        for key in ("component", "regime", "old", "new", "reason", "samples"):
            assert key in row
        assert row["samples"] >= 30
        assert 0.25 <= row["new"] <= 2.5
    seen = set()
    for row in rows:
        k = (row["kind"], row["component"], row["regime"], row["day"])
        assert k not in seen, f"two changes of {k} on one day"
        seen.add(k)
    # Planted-positive components rose overall, planted-negative ones fell.
    sw = json.loads((r.state / "signal_weights.json").read_text())["components"]
    assert sw["momentum"]["multiplier"] > 1
    assert sw["mean_reversion"]["multiplier"] < 1


def test_exit_reasons_and_signal_outcomes_are_learned(tmp_path):
    r, truth = simulated(tmp_path, 3, days=20)
    ex = json.loads((r.state / "exit_weights.json").read_text())["reasons"]
    assert {"take_profit", "stop_loss"} <= set(ex)
    assert ex["take_profit"]["win_rate"] > ex["stop_loss"]["win_rate"]
    so = json.loads((r.state / "signal_outcomes.json").read_text())
    total = sum(v["success"] + v["failure"] + v["expired"] for v in so["by_symbol"].values())
    assert total > 100
    assert all(v["success_rate"] is None or 0 <= v["success_rate"] <= 1
               for v in so["by_symbol"].values())


def test_status_shows_progressive_metrics_and_trades_learned(tmp_path):
    r, truth = simulated(tmp_path, 1, days=10)
    st = json.loads(r.run("status", "--json").stdout)
    m = st["model"]
    assert m["trades_scored"] == truth["closes"] + truth["partial_closes"]
    for key in ("auc", "log_loss", "brier"):
        assert isinstance(m[key], float)
    assert 0.5 < m["auc"] < 1 and 0 < m["brier"] < 0.25
    human = r.run("status").stdout
    assert "AUC" in human and "trades learned" in human


def test_units_percent_and_fraction_give_the_same_model(tmp_path):
    frac = Root(tmp_path / "frac")
    frac.run("simulate", "--days", 15, "--seed", 4)
    pct = Root(tmp_path / "pct")
    for name in ("attribution.jsonl", "exits.jsonl", "signals.jsonl", "orders.jsonl"):
        out = []
        for line in (frac.logs / name).read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                out.append(line)
                continue
            if isinstance(row, dict) and isinstance(row.get("pnl_pct"), (int, float)):
                row["pnl_pct"] = row["pnl_pct"] * 100
            out.append(json.dumps(row))
        (pct.logs / name).write_text("\n".join(out) + "\n")
    # The same mapping as the built-in canonical profile, with percent P&L.
    cfg = {"profile": "canonical-percent", "profiles": {"canonical-percent": canonical_percent()}}
    (pct.path / "tradelearn.json").write_text(json.dumps(cfg))
    frac.run("watch", "--once")
    pct.profile = "canonical-percent"
    pct.run("watch", "--once")
    a, b = online(frac), online(pct)
    for name, f in a["numeric"].items():
        assert b["numeric"][name]["weight"] == pytest.approx(f["weight"], rel=1e-9, abs=1e-12)
    assert b["bias"] == pytest.approx(a["bias"], rel=1e-9, abs=1e-12)
    for key in ("auc", "log_loss", "brier"):
        assert b["metrics"][key] == pytest.approx(a["metrics"][key], rel=1e-9)
    pa = [o["pnl_frac"] for o in frac.outcomes()]
    pb = [o["pnl_frac"] for o in pct.outcomes()]
    assert pb == pytest.approx(pa, rel=1e-12)


def canonical_percent():
    fields = {f: "/" + f for f in (
        "trade_id", "symbol", "side", "ts", "entry_ts", "entry_price", "exit_price", "qty",
        "pnl_usd", "pnl_pct", "hold_minutes", "confidence", "score", "regime", "sector",
        "timeframe", "close_reason", "fraction", "components", "equity", "signal_id")}
    fields["position_id"] = "/trade_id"
    return {"pnl_unit": "percent", "position": "trade_id", "sources": {
        "attribution": {"file": "attribution.jsonl",
                        "kind": {"pointer": "/event", "equals": {"open": "open", "close": "close",
                                                                 "scale": "partial"}},
                        "key": ["/trade_id"], "partial_key": ["/trade_id", "/ts"],
                        "fields": fields},
        "exit": {"file": "exits.jsonl",
                 "kind": {"pointer": "/event", "equals": {"exit": "exit"}, "default": "exit"},
                 "fields": {"trade_id": "/trade_id", "symbol": "/symbol", "side": "/side",
                            "ts": "/ts", "close_reason": "/reason", "pnl_usd": "/pnl_usd",
                            "pnl_pct": "/pnl_pct", "hold_minutes": "/hold_minutes"}},
        "signals": {"file": "signals.jsonl", "kind": "signal",
                    "fields": {f: "/" + f for f in (
                        "signal_id", "symbol", "side", "ts", "timeframe", "confidence", "score",
                        "price", "stop_loss", "take_profit", "regime", "components", "traded",
                        "reason")}}}}


@pytest.mark.skipif(not (FIXTURE / "attribution.jsonl.gz").exists(),
                    reason=f"stock-bot fixture not found at {FIXTURE}")
def test_stock_bot_learns_993_trades_and_a_rerun_learns_nothing(tmp_path):
    import gzip
    import shutil
    r = Root(tmp_path / "bot", profile="stock-bot")
    for src, dst in (("attribution", "attribution"), ("exit_attribution", "exit_attribution")):
        with gzip.open(FIXTURE / f"{src}.jsonl.gz", "rb") as s, open(r.logs / f"{dst}.jsonl", "wb") as d:
            shutil.copyfileobj(s, d)
    r.run("watch", "--once")
    m = online(r)["metrics"]
    assert m["trades_scored"] == 976 + 17
    before = (r.path / "models" / "online.json").read_text()
    r.run("watch", "--once")
    assert online(r)["metrics"]["trades_scored"] == 993
    # A replayed log (the same rows again) teaches nothing either.
    with open(r.logs / "attribution.jsonl", "ab") as f, \
            gzip.open(FIXTURE / "attribution.jsonl.gz", "rb") as s:
        shutil.copyfileobj(s, f)
    r.run("watch", "--once")
    after = online(r)
    assert after["metrics"]["trades_scored"] == 993
    assert after["numeric"] == json.loads(before)["numeric"]


def learned_state(r):
    """Everything learned, parsed, without times of writing."""
    st = r.state_json()
    gen = json.loads((r.state / st["learner_file"]).read_text())
    model = online(r)
    model.pop("written_at", None)
    return {
        "generation": gen,
        "online": model,
        "signal_weights": json.loads((r.state / "signal_weights.json").read_text()),
        "exit_weights": json.loads((r.state / "exit_weights.json").read_text()),
        "signal_outcomes": json.loads((r.state / "signal_outcomes.json").read_text()),
        "journal": (r.state / "weight_learning.jsonl").read_text().splitlines(),
    }


def assert_close(a, b, path="$"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, path
        assert abs(a - b) <= 1e-12 * max(1.0, abs(a)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_learned_state_is_exactly_once_under_30_kill_9_restarts(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    killed, steady = Root(tmp_path / "killed"), Root(tmp_path / "steady")
    sim = subprocess.Popen([BIN, "--logs", str(logs), "simulate", "--live", "--rate", "500",
                            "--rotate-every", "2", "--seed", "21"], stderr=subprocess.PIPE)
    time.sleep(0.2)
    w = steady.start_watch("--logs", logs)
    rng = random.Random(7)
    try:
        for _ in range(30):
            k = killed.start_watch("--logs", logs)
            time.sleep(rng.uniform(0.02, 0.6))
            k.send_signal(signal.SIGKILL)
            k.wait()
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=30)
    steady.stop(w)
    killed.run("--logs", logs, "watch", "--once")
    steady.run("--logs", logs, "watch", "--once")
    a, b = learned_state(killed), learned_state(steady)
    assert a["online"]["metrics"]["trades_scored"] > 50
    assert_close(a, b)
