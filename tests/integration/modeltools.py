"""Helpers of the model tests: simulated roots, retrain runs, bundles, oracles."""
import io
import json
import math
import subprocess
import tarfile

from conftest import Root, sealed


def simulated_root(tmp_path, name="sim", days=60, seed=3, config=None):
    """A root holding `days` simulated trading days, caught up by watch --once."""
    r = Root(tmp_path / name)
    truth_path = tmp_path / f"{name}-truth.json"
    r.run("simulate", "--days", days, "--seed", seed, "--truth", truth_path)
    if config:
        (r.path / "tradelearn.json").write_text(json.dumps(config))
    r.run("watch", "--once")
    return r, json.loads(truth_path.read_text())


def retrain(r, *args, check=True):
    """tradelearn retrain ... --json: the decision event."""
    p = r.run("retrain", *args, "--json", check=check)
    return json.loads(p.stdout) if p.returncode == 0 else p


def registry(r):
    path = r.path / "models" / "registry.json"
    return json.loads(path.read_text()) if path.exists() else None


def bundle_members(path):
    """Every member of a bundle, read with the zstd and tar of Python."""
    data = subprocess.run(["zstd", "-dc"], input=path.read_bytes(), capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}


def bundle_of(r, version):
    return r.path / "models" / f"{version}.tar.zst"


def examples(outcomes):
    """The outcomes a retrain learns from: an exit time and a P&L."""
    return [o for o in outcomes
            if o["exit_ts"] and (o["pnl_usd"] is not None or o["pnl_frac"] is not None)]


def label(o):
    return int(o["pnl_usd"] > 0 if o["pnl_usd"] is not None else o["pnl_frac"] > 0)


def holdout(r, event):
    """The outcomes the retrain held out: those exiting at or after holdout_from."""
    start = event["data"]["holdout_from"]
    return [o for o in examples(r.outcomes()) if o["exit_ts"] >= start]


def planted_p(truth, outcome):
    """The simulator's planted P(win) of a trade, from its components."""
    eta = truth["intercept"]
    for name, w in truth["components"].items():
        x = outcome["components"][name]
        eta += w * (x - truth["component_mean"][name]) / truth["component_sd"][name]
    return 1 / (1 + math.exp(-eta))


def auc(scores, labels):
    """Mann–Whitney AUC, pairs tied on the score counting ½."""
    pairs = sorted(zip(scores, labels))
    below = won = 0.0
    i = 0
    while i < len(pairs):
        j = i
        pos = neg = 0
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            pos += pairs[j][1]
            neg += 1 - pairs[j][1]
            j += 1
        won += below * pos + 0.5 * pos * neg
        below += neg
        i = j
    p = sum(labels)
    return won / (p * (len(labels) - p))


def score(model, trade):
    """The README's scorer of a format-2 model (online.json, current.json, model.json)."""
    z = model["bias"]
    x = dict(trade.get("components") or {})
    x.update({k: trade[k] for k in ("confidence", "score") if trade.get(k) is not None})
    for name, f in model["numeric"].items():
        if type(x.get(name)) in (int, float) and f["sd"] is not None:
            z += f["weight"] * max(-model["z_clip"], min(model["z_clip"],
                                                          (x[name] - f["mean"]) / f["sd"]))
    for field in model["categorical"]["fields"]:
        z += model["categorical"]["weights"].get(f"{field}={trade.get(field) or 'none'}", 0.0)
    return 1 / (1 + math.exp(-z))


def rewrite_outcomes(r, outcomes):
    """Replaces the committed outcomes with these (one zstd frame), as if
    they had been committed: the state file names the new length."""
    text = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in outcomes).encode()
    frame = subprocess.run(["zstd", "-q", "-c"], input=text, capture_output=True,
                           check=True).stdout
    (r.state / "outcomes" / "trade_outcomes.jsonl.zst").write_bytes(frame)
    for name in ("learning_processing_state.json", "learning_processing_state.json.prev"):
        path = r.state / name
        if path.exists():
            st = json.loads(path.read_text())
            st["outputs"]["outcomes/trade_outcomes.jsonl.zst"]["length"] = len(frame)
            path.write_text(sealed(st))
