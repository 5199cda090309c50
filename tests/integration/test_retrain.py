"""tradelearn retrain: the batch model, the candidates, the gate, what a deployment writes."""
import json
import math
import random
import shutil

import pytest

from conftest import Root, append, canonical_close, canonical_open
from modeltools import (auc, bundle_members, bundle_of, examples, holdout, label, planted_p,
                        registry, retrain, rewrite_outcomes, score, simulated_root)


def test_a_first_retrain_on_a_planted_signal_deploys_with_the_oracle_auc_on_its_hold_out(tmp_path):
    r, truth = simulated_root(tmp_path, days=60, seed=3)
    event = retrain(r, "--force")
    assert event["event"] == "deploy" and event["decision"] == "deploy", event["reasons"]
    version = event["version"]
    chosen = event["figures"]["chosen"]
    figures = event["figures"]["candidates"][chosen]
    held = holdout(r, event)
    assert len(held) == event["data"]["holdout"] == figures["outcomes"]
    assert 300 <= len(held) <= 1000, "a hold-out of a few hundred trades"
    # The oracle: the simulator's planted probabilities of exactly these trades.
    oracle = auc([planted_p(truth, o) for o in held], [label(o) for o in held])
    print(f"hold-out {len(held)} trades: {chosen} AUC {figures['auc']:.4f}, oracle {oracle:.4f}, "
          f"log loss {figures['log_loss']:.4f} (base rate "
          f"{event['figures']['base_rate']['log_loss']:.4f})")
    assert abs(figures["auc"] - oracle) <= 0.03
    # The figures are those of the deployed model.json scored on those trades.
    current = json.loads((r.path / "models" / "current.json").read_text())
    assert current["version"] == version and current["deployed_at"]
    assert auc([score(current, o) for o in held], [label(o) for o in held]) == \
        pytest.approx(figures["auc"], abs=1e-12)
    # A first model needs only the absolute thresholds: the relative ones are not applied.
    checks = {c["check"]: c for c in event["checks"]}
    assert not checks["accuracy at least 0.9500 × the deployed model's"]["applied"]
    assert checks["log_loss below 1 × the base rate's"]["pass"]
    assert checks["taken_sharpe at least 0.5000"]["pass"]
    reg = registry(r)
    assert reg["deployed"] == version
    v = reg["versions"][-1]
    assert (v["id"], v["status"], v["decided_by"]) == (version, "deployed", "gate")
    assert reg["last_decision"] == event
    log = (r.state / "retrain_log.jsonl").read_text().splitlines()
    assert json.loads(log[-1]) == event
    base = json.loads((r.state / "baseline_performance.json").read_text())
    assert base["version"] == version and base["deployment"].startswith(version + "@")
    assert base["accuracy"] == figures["accuracy"]
    for key in ("win_rate", "profit_factor", "last_retrain"):
        assert base[key] is not None
    # The bundle: model.json is current.json without the two keys it adds.
    members = bundle_members(bundle_of(r, version))
    assert set(members) == {"manifest.json", "model.json", "metrics.json"}
    model = json.loads(members["model.json"])
    assert {k: v for k, v in current.items() if k not in ("version", "deployed_at")} == model
    manifest = json.loads(members["manifest.json"])
    assert manifest["samples"]["holdout"] == len(held)
    assert manifest["data_to"] == event["data"]["to"] and len(manifest["config_digest"]) == 64


def test_the_same_data_with_shuffled_labels_is_rejected_naming_the_thresholds_that_fail(tmp_path):
    """The shuffled copy: the committed outcomes of the simulated root with
    their wins and losses permuted (P&L signs flipped), so the features carry
    nothing about the labels any more."""
    r, _ = simulated_root(tmp_path, days=60, seed=3)
    shuffled = Root(tmp_path / "shuffled")
    shutil.rmtree(shuffled.path)
    shutil.copytree(r.path, shuffled.path)
    outcomes = shuffled.outcomes()
    labels = [label(o) for o in outcomes]
    random.Random(5).shuffle(labels)
    for o, y in zip(outcomes, labels):
        if label(o) != y:
            for key in ("pnl_usd", "pnl_frac"):
                if o[key] is not None:
                    o[key] = -o[key] if o[key] else (0.01 if y else -0.01)
    rewrite_outcomes(shuffled, outcomes)
    assert [label(o) for o in shuffled.outcomes()] == labels

    event = retrain(shuffled, "--force")
    assert event["event"] == "reject", event["reasons"]
    failed = [c for c in event["checks"] if not c["pass"]]
    names = {c["check"] for c in failed}
    print("shuffled:", "; ".join(c["text"] for c in failed))
    assert "log_loss below 1 × the base rate's" in names
    # Every failing threshold is named in the reasons, with its value and limit.
    for c in failed:
        assert c["text"] in event["reasons"]
        assert c["value"] is None or f"{c['value']:.4f}" in c["text"]
    reg = registry(shuffled)
    assert reg["deployed"] is None and reg["versions"][-1]["status"] == "rejected"
    assert not (shuffled.path / "models" / "current.json").exists()
    # And the same root, unshuffled, deploys (the gate is not simply closed).
    assert retrain(r, "--force")["event"] == "deploy"


def test_a_second_retrain_on_unchanged_data_gives_the_same_model_json_byte_for_byte(tmp_path):
    r, _ = simulated_root(tmp_path, days=30, seed=4)
    first = retrain(r, "--force")
    second = retrain(r, "--force")
    assert first["version"] != second["version"]
    a = bundle_members(bundle_of(r, first["version"]))
    b = bundle_members(bundle_of(r, second["version"]))
    assert a["model.json"] == b["model.json"]
    assert first["figures"]["candidates"] == {**second["figures"]["candidates"],
                                              "deployed": None}
    # The deployed model is the same model: not better, so nothing new is deployed.
    assert second["event"] == "reject"
    assert "still the best candidate" in second["reasons"][0]
    assert registry(r)["deployed"] == first["version"]


def test_the_online_snapshot_is_judged_only_on_trades_it_had_not_learned(root):
    """Every trade has a symbol of its own and a random outcome, and nothing
    else differs between trades: a model that learned a trade knows its
    outcome from its symbol, one that did not knows nothing. The online model
    of watch learned every trade and would look perfect on the hold-out; the
    snapshot taken where the hold-out begins must score it like a coin."""
    rng = random.Random(9)
    rows = []
    for i in range(400):
        at = f"2026-02-02T14:{35 + i // 10 // 6 % 50:02d}:{i % 60:02d}.{i:06d}Z"
        sym = f"S{i:04d}"
        rows.append(canonical_open(i, symbol=sym, ts=at))
        rows.append(canonical_close(i, pnl=rng.choice([-2.0, 2.0]), symbol=sym, ts=at))
    append(root.logs / "attribution.jsonl", "\n".join(rows) + "\n")
    root.run("watch", "--once")
    event = retrain(root, "--dry-run")
    held = holdout(root, event)
    assert 60 <= len(held) <= 100
    labels = [label(o) for o in held]
    online_json = json.loads((root.path / "models" / "online.json").read_text())
    learned_everything = auc([score(online_json, o) for o in held], labels)
    assert learned_everything > 0.95, "the online model that saw them would look perfect"
    snapshot = event["figures"]["candidates"]["online"]
    assert snapshot["auc"] == 0.5, snapshot
    assert event["figures"]["candidates"]["batch"]["auc"] == 0.5


def test_too_little_data_is_a_rejection_with_its_reasons_never_a_crash(root):
    p = root.run("retrain", "--force")
    assert "reject: too little data" in p.stdout
    assert "outcomes in the window: 0, not ≥ 100: fails" in p.stdout
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_open(i) + "\n" + canonical_close(i, pnl=2.0) + "\n"
                        for i in range(30)))
    root.run("watch", "--once")
    event = retrain(root, "--force")
    assert event["event"] == "reject" and event["version"] is None
    assert "outcomes in the window: 30, not ≥ 100: fails" in event["reasons"]
    assert "losses in the training part: 0, not ≥ 1: fails" in event["reasons"]
    reg = registry(root)
    assert reg["versions"] == [] and reg["deployed"] is None
    assert reg["last_decision"] == event
    assert not (root.path / "models" / "current.json").exists()
    assert not list((root.path / "models").glob("*.tar.zst"))


def test_without_force_it_says_in_one_line_why_it_does_or_does_not_retrain(tmp_path):
    r, _ = simulated_root(tmp_path, days=20, seed=2)
    p = r.run("retrain")
    assert p.stdout.count("\n") == 1
    assert p.stdout.startswith("not retraining: no daily report yet")
    assert not (r.path / "models" / "registry.json").exists() or registry(r)["versions"] == []
    # The first daily report calls for one: 20 days and no retrain yet.
    r.run("daily", "--date", "2026-01-30")
    p = r.run("retrain")
    assert p.stdout.startswith("deploy ") or p.stdout.startswith("reject "), p.stdout
    assert len(registry(r)["versions"]) == 1
    # Again at once: the minimum interval holds it back.
    p = r.run("retrain")
    assert p.stdout.startswith("not retraining: the last retrain was 0.0 h ago")
    assert len(registry(r)["versions"]) == 1
    # A dry run trains and says what the gate would decide, and writes nothing.
    before = {f: f.read_bytes() for f in (r.path / "models").iterdir() if f.is_file()}
    log = (r.state / "retrain_log.jsonl").read_bytes()
    p = r.run("retrain", "--dry-run")
    assert p.stdout.startswith("dry run: would ")
    assert {f: f.read_bytes() for f in (r.path / "models").iterdir() if f.is_file()} == before
    assert (r.state / "retrain_log.jsonl").read_bytes() == log


def test_the_batch_fit_agrees_with_scikit_learn_on_the_same_objective(root):
    """The encoding, the split and the sample weights computed here as the
    README documents them, fitted with scikit-learn's LogisticRegression
    (C = 1/(l2·Σs)), give the same weighted log loss as the model.json of the
    retrain, to 1e-5."""
    sklearn = pytest.importorskip("sklearn.linear_model",
                                  reason="python3-sklearn is not installed (make deps)")
    import numpy
    rng = random.Random(3)
    rows = []
    for i in range(300):
        day = 2 + i // 30  # 10 trading days from 2026-02-02
        at = f"2026-02-{day:02d}T15:{i % 30 * 2:02d}:{i % 60:02d}.000000Z"
        a, b = rng.gauss(0, 1), rng.gauss(2, 3)
        regime = rng.choice(["trend_up", "trend_down", "range"])
        p = 1 / (1 + math.exp(-(0.3 + 0.9 * a - 0.2 * b + (0.5 if regime == "range" else 0))))
        pnl = round(rng.uniform(0.5, 4.0) * (1 if rng.random() < p else -1), 2)
        side = rng.choice(["long", "short"])
        o = json.loads(canonical_open(i, side=side, ts=at))
        c = json.loads(canonical_close(i, pnl=pnl, side=side, ts=at))
        for row in (o, c):
            row.update({"components": {"a": round(a, 4), "b": round(b, 4)}, "regime": regime,
                        "confidence": round(rng.uniform(0.4, 0.9), 3)})
        rows += [json.dumps(o), json.dumps(c)]
    append(root.logs / "attribution.jsonl", "\n".join(rows) + "\n")
    root.run("watch", "--once")
    event = retrain(root, "--force")
    model = json.loads(bundle_members(bundle_of(root, event["version"]))["model.json"])

    # The split: the window (60 days to the newest exit) sorted by exit, the
    # last ceil(20%) held out with every outcome exiting at the same instant.
    ex = examples(root.outcomes())
    order = sorted(range(len(ex)), key=lambda i: (ex[i]["exit_ts"], i))
    cut = len(ex) - math.ceil(0.2 * len(ex))
    start = ex[order[cut]]["exit_ts"]
    train = [o for o in ex if o["exit_ts"] < start]
    assert len(train) == event["data"]["train"]
    y = numpy.array([label(o) for o in train])

    # Sample weights: recency × outcome weight (learner defaults).
    def us(iso):
        from datetime import datetime
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    latest = max(us(o["exit_ts"]) for o in train)
    fracs = [abs(o["pnl_frac"]) for o in train if o["pnl_frac"] is not None]
    m = sum(fracs) / len(fracs) if fracs and sum(fracs) else 1.0
    s = []
    for o in train:
        decay = 0.5 ** ((latest - us(o["exit_ts"])) / 86400 / 30)
        w = 1.0 if o["pnl_frac"] is None else min(2.0, max(0.5, 0.5 + 0.5 * abs(o["pnl_frac"]) / m))
        s.append(min(3.0, max(0.25, decay * w)))
    s = numpy.array(s)

    # The encoding: numeric features z-scored by the training part's mean and
    # sample sd, clipped to ±5; one-hot field=value, "none" when absent.
    def numbers(o):
        x = {k: v for k, v in (o["components"] or {}).items() if type(v) in (int, float)}
        x.update({k: o[k] for k in ("confidence", "score") if o[k] is not None})
        return x
    names = sorted({k for o in train for k in numbers(o)})
    columns = []
    for name in names:
        vals = [numbers(o)[name] for o in train if name in numbers(o)]
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0
        if sd < 1e-6:
            continue
        columns.append([max(-5, min(5, (numbers(o)[name] - mean) / sd)) if name in numbers(o)
                        else 0.0 for o in train])
    fields = ["regime", "time_of_day", "day_of_week", "side", "timeframe", "sector", "symbol"]
    values = sorted({f"{f}={o[f] or 'none'}" for o in train for f in fields})
    for v in values:
        f, _, val = v.partition("=")
        columns.append([1.0 if (o[f] or "none") == val else 0.0 for o in train])
    X = numpy.array(columns).T
    l2 = 1e-4
    fit = sklearn.LogisticRegression(C=1 / (l2 * s.sum()), tol=1e-12, max_iter=100000)
    fit.fit(X, y, sample_weight=s)

    def weighted_log_loss(p):
        p = numpy.clip(p, 1e-15, 1 - 1e-15)
        return float(-(s * (y * numpy.log(p) + (1 - y) * numpy.log(1 - p))).sum() / s.sum())
    ours = weighted_log_loss(numpy.array([score(model, o) for o in train]))
    theirs = weighted_log_loss(fit.predict_proba(X)[:, 1])
    print(f"weighted log loss: tradelearn {ours:.10f}, scikit-learn {theirs:.10f}")
    assert abs(ours - theirs) <= 1e-5
    assert abs(event["optimizer"]["log_loss"] - ours) <= 1e-9
    assert event["optimizer"]["converged"]


def test_a_bad_gate_in_the_config_is_refused_with_its_line(root):
    (root.path / "tradelearn.json").write_text(
        '{\n  "retrain": {\n    "gate": [\n      {"metric": "sharpness", "min": 1}\n    ]\n  }\n}\n')
    p = root.run("retrain", "--force", check=False)
    assert p.returncode == 1
    assert "tradelearn.json:3: retrain.gate[0].metric: must be one of log_loss" in p.stderr
