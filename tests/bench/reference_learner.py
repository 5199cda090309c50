#!/usr/bin/env python3
"""What a bot's own script would do instead of tradelearn: read every line of
the stock-bot logs with json.loads, keep the counters tradelearn keeps, and
learn from each closed trade with a per-trade logistic model (its features:
the entry score and the signal components of the trade's open).

    reference_learner.py FILE...

The files are the stock-bot layout's (attribution.jsonl: trade_id prefixes
open_/close_/scale_; exit_attribution.jsonl; blocked_trades.jsonl;
orders.jsonl), named as the bot names them. Prints one JSON object: lines,
bytes, the counters, trades learned, P&L, the progressive log loss, seconds
and MB/s. The benchmark compares tradelearn's speed with it; it is not a
reference for tradelearn's figures (no time ordering, no exactly-once).
"""
import json
import math
import os
import sys
import time


class Logistic:
    """Online logistic regression, one SGD step per trade, features
    standardized with running means and variances."""

    def __init__(self, rate=0.05, l2=1e-4):
        self.rate, self.l2 = rate, l2
        self.w, self.bias = {}, 0.0
        self.n, self.mean, self.m2 = {}, {}, {}
        self.loss, self.seen = 0.0, 0

    def _z(self, name, x):
        n = self.n.get(name, 0) + 1
        mean = self.mean.get(name, 0.0)
        delta = x - mean
        mean += delta / n
        m2 = self.m2.get(name, 0.0) + delta * (x - mean)
        self.n[name], self.mean[name], self.m2[name] = n, mean, m2
        sd = math.sqrt(m2 / (n - 1)) if n > 1 else 1.0
        return max(-5.0, min(5.0, (x - mean) / sd)) if sd > 0 else 0.0

    def learn(self, features, won):
        z = {k: self._z(k, v) for k, v in features.items()}
        eta = self.bias + sum(self.w.get(k, 0.0) * v for k, v in z.items())
        p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, eta))))
        p = min(max(p, 1e-12), 1 - 1e-12)
        self.loss += -math.log(p if won else 1 - p)
        self.seen += 1
        g = p - (1.0 if won else 0.0)
        self.bias -= self.rate * g
        for k, v in z.items():
            w = self.w.get(k, 0.0)
            self.w[k] = w - self.rate * (g * v + self.l2 * w)


def number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def main(paths):
    t0 = time.perf_counter()
    counts = {"lines": 0, "bytes": 0, "malformed": 0, "opens": 0, "closes": 0, "partials": 0,
              "duplicates": 0, "exits": 0, "signals": 0, "orders": 0, "ignored": 0}
    model, opens, seen = Logistic(), {}, set()
    pnl = 0.0
    for path in paths:
        name = os.path.basename(path)
        with open(path, "rb") as f:
            for raw in f:
                counts["lines"] += 1
                counts["bytes"] += len(raw)
                try:
                    row = json.loads(raw)
                except ValueError:
                    counts["malformed"] += 1
                    continue
                if not isinstance(row, dict):
                    counts["malformed"] += 1
                    continue
                if name.startswith("exit_attribution"):
                    counts["exits"] += 1
                elif name.startswith("blocked_trades"):
                    counts["signals"] += 1
                elif name.startswith("orders"):
                    counts["orders"] += 1
                elif name.startswith("attribution"):
                    tid = row.get("trade_id")
                    ctx = row.get("context") if isinstance(row.get("context"), dict) else {}
                    if not isinstance(tid, str):
                        counts["ignored"] += 1
                    elif tid.startswith("open_"):
                        counts["opens"] += 1
                        opens[row.get("symbol")] = ctx
                    elif tid.startswith(("close_", "scale_")):
                        if tid in seen:
                            counts["duplicates"] += 1
                            continue
                        seen.add(tid)
                        counts["closes" if tid.startswith("close_") else "partials"] += 1
                        p = number(row.get("pnl_usd"))
                        if p is None:
                            continue
                        pnl += p
                        entry = opens.get(row.get("symbol"), {})
                        comps = ctx.get("components") or entry.get("components") or {}
                        features = {k: v for k, v in ((k, number(v)) for k, v in comps.items())
                                    if v is not None} if isinstance(comps, dict) else {}
                        score = number(row.get("entry_score", ctx.get("entry_score",
                                                                       entry.get("score"))))
                        if score is not None:
                            features["score"] = score
                        model.learn(features, p > 0)
                        if tid.startswith("close_"):
                            opens.pop(row.get("symbol"), None)
                    else:
                        counts["ignored"] += 1
    secs = time.perf_counter() - t0
    counts.update(trades_learned=model.seen, pnl_usd=round(pnl, 2),
                  log_loss=round(model.loss / model.seen, 6) if model.seen else None,
                  seconds=round(secs, 4),
                  mb_per_s=round(counts["bytes"] / 1e6 / secs, 2) if secs > 0 else None)
    print(json.dumps(counts))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: reference_learner.py FILE...")
    main(sys.argv[1:])
