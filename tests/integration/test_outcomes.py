"""What a closed trade's outcome carries, what exit reasons teach, and what
resolves a signal: the real binary on hand-written logs."""
import json

from conftest import append


def write_config(root, profile):
    (root.path / "tradelearn.json").write_text(json.dumps(
        {"profile": "sparsebot", "profiles": {"sparsebot": profile}}))
    root.profile = "sparsebot"


def sparse_profile(with_exit_source=False):
    """A bot whose closes carry only symbol, time, exit price, P&L and a
    close reason: the entry is on the open row alone."""
    fields = {"ts": "/when", "symbol": "/ticker", "side": "/dir",
              "entry_price": "/entry", "exit_price": "/exit",
              "pnl_usd": "/usd", "pnl_pct": "/pct", "regime": "/regime",
              "confidence": "/conf", "components": "/comp",
              "close_reason": "/why"}
    sources = {"attribution": {
        "file": "fills.jsonl",
        "kind": {"pointer": "/what", "equals": {"ENTRY": "open", "EXIT": "close"}},
        "key": ["/id"], "fields": fields}}
    if with_exit_source:
        sources["exit"] = {"file": "exits.jsonl", "kind": "exit",
                           "fields": {"ts": "/when", "symbol": "/ticker",
                                      "close_reason": "/reason", "pnl_usd": "/usd"}}
    return {"pnl_unit": "percent", "position": "symbol", "sources": sources}


# 2026-02-05 14:35 UTC is 09:35 in New York, a Thursday: the "open" bucket.
ENTRY = 1770302100


def sparse_rows(n=40):
    rows = []
    for i in range(n):
        t = ENTRY + i * 86400
        win = i % 3 != 0
        rows.append({"what": "ENTRY", "id": f"e{i}", "when": t, "ticker": "XOM",
                     "dir": "buy", "entry": 100.0, "regime": "trending", "conf": 0.6,
                     "comp": {"momentum": 1.0 if win else -1.0, "volume": 0.5}})
        # Five hours later (the afternoon), nothing of the entry repeated.
        rows.append({"what": "EXIT", "id": f"x{i}", "when": t + 5 * 3600, "ticker": "XOM",
                     "exit": 101.0 if win else 99.0, "usd": 10.0 if win else -10.0,
                     "why": "take_profit(1%)" if win else "stop_loss(-1%)"})
    return rows


def test_a_close_takes_its_entry_from_the_open_of_a_config_profile(root):
    write_config(root, sparse_profile())
    rows = sparse_rows()
    append(root.logs / "fills.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    root.run("watch", "--once")
    out = root.outcomes()
    assert len(out) == 40
    first = out[0]
    assert first["trade_id"] == "x0"
    assert first["entry_ts"] == "2026-02-05T14:35:00.000000Z"
    assert first["exit_ts"] == "2026-02-05T19:35:00.000000Z"
    assert first["entry_price"] == 100.0 and first["exit_price"] == 99.0
    assert first["side"] == "long"
    assert first["regime"] == "trending" and first["confidence"] == 0.6
    assert first["components"] == {"momentum": -1.0, "volume": 0.5}
    assert first["time_of_day"] == "open" and first["day_of_week"] == "thursday"
    assert first["hold_minutes"] == 300.0
    # The model and the component statistics learned from the components.
    online = json.loads((root.path / "models" / "online.json").read_text())
    assert online["trades_learned"] == 40
    names = json.dumps(online["numeric"])
    assert "momentum" in names and "volume" in names
    momentum = next(v for k, v in online["numeric"].items() if "momentum" in k)
    assert momentum["weight"] > 0  # wins came with momentum at entry
    sw = json.loads((root.state / "signal_weights.json").read_text())["components"]
    assert "momentum" in sw


def test_the_entry_of_an_open_survives_a_restart_before_its_close(root):
    write_config(root, sparse_profile())
    rows = sparse_rows(1)
    append(root.logs / "fills.jsonl", json.dumps(rows[0]) + "\n")
    root.run("watch", "--once")
    assert root.outcomes() == []
    append(root.logs / "fills.jsonl", json.dumps(rows[1]) + "\n")
    root.run("watch", "--once")
    out = root.outcomes()
    assert len(out) == 1
    assert out[0]["entry_ts"] == "2026-02-05T14:35:00.000000Z"
    assert out[0]["components"] == {"momentum": -1.0, "volume": 0.5}
    assert out[0]["regime"] == "trending"


def test_without_an_exit_source_closes_teach_the_exit_reasons(root):
    write_config(root, sparse_profile())
    append(root.logs / "fills.jsonl", "".join(json.dumps(r) + "\n" for r in sparse_rows()))
    root.run("watch", "--once")
    reasons = json.loads((root.state / "exit_weights.json").read_text())["reasons"]
    assert set(reasons) == {"take_profit", "stop_loss"}
    assert reasons["take_profit"]["win_rate"] == 1.0
    assert reasons["stop_loss"]["win_rate"] == 0.0
    before = json.loads((root.state / "exit_weights.json").read_text())
    # Read again (nothing new): learned once.
    root.run("watch", "--once")
    assert json.loads((root.state / "exit_weights.json").read_text()) == before


def test_with_an_exit_source_only_its_rows_teach_the_exit_reasons(root):
    write_config(root, sparse_profile(with_exit_source=True))
    append(root.logs / "fills.jsonl", "".join(json.dumps(r) + "\n" for r in sparse_rows()))
    exits = [{"when": ENTRY + i * 86400 + 5 * 3600, "ticker": "XOM",
              "reason": "trail_stop(0.5)", "usd": 3.0} for i in range(5)]
    append(root.logs / "exits.jsonl", "".join(json.dumps(r) + "\n" for r in exits))
    root.run("watch", "--once")
    reasons = json.loads((root.state / "exit_weights.json").read_text())["reasons"]
    assert set(reasons) == {"trail_stop"}


# ---- signal outcomes from every observed price -------------------------------------

T0 = 1770302100  # 2026-02-05T14:35:00Z


def signal(symbol, t, side=None, price=None, sl=None, tp=None):
    row = {"signal_id": f"s-{symbol}-{t}", "symbol": symbol, "ts": t, "price": price}
    if side:
        row.update(side=side, stop_loss=sl, take_profit=tp)
    return row


def close(i, symbol, t, exit_price):
    return {"event": "close", "trade_id": f"T{i}", "symbol": symbol, "side": "long", "ts": t,
            "exit_price": exit_price, "pnl_usd": 1.0}


def test_signals_are_resolved_by_prices_of_closes_and_orders(root):
    signals = [
        signal("AAPL", T0, "long", 100.0, 99.0, 102.0),
        signal("MSFT", T0, "long", 200.0, 190.0, 210.0),
        signal("NVDA", T0 + 300, "long", 50.0, 49.0, 52.0),
        # Only there so the signals source has passed everything above.
        signal("ZZZ", T0 + 7200, price=1.0),
    ]
    attribution = [
        close(1, "NVDA", T0 - 600, 60.0),    # before the NVDA signal: resolves nothing
        close(2, "AAPL", T0 + 600, 102.5),   # crosses AAPL's take-profit
        close(3, "ZZZ", T0 + 7200, 1.0),
    ]
    orders = [
        {"order_id": "o1", "symbol": "MSFT", "ts": T0 + 900, "price": 188.0},  # MSFT's stop
        {"order_id": "o2", "symbol": "ZZZ", "ts": T0 + 7200, "price": 1.0},
    ]
    for name, rows in (("signals.jsonl", signals), ("attribution.jsonl", attribution),
                       ("orders.jsonl", orders)):
        append(root.logs / name, "".join(json.dumps(r) + "\n" for r in rows))
    root.run("watch", "--once")
    so = json.loads((root.state / "signal_outcomes.json").read_text())["by_symbol"]
    assert (so["AAPL"]["success"], so["AAPL"]["failure"]) == (1, 0)
    assert (so["MSFT"]["success"], so["MSFT"]["failure"]) == (0, 1)
    assert so["NVDA"]["pending"] == 1
    assert so["NVDA"]["success"] + so["NVDA"]["failure"] + so["NVDA"]["expired"] == 0


def test_signal_outcomes_do_not_depend_on_how_the_sources_were_read(tmp_path):
    """A bot writes its files as things happen. One root reads them as they
    are written, in chunks cut anywhere, often with one source quiet and
    read to its end; the other reads everything at once: the same signal
    outcomes."""
    import random
    from conftest import Root
    one, all_at_once = Root(tmp_path / "one"), Root(tmp_path / "all")
    written = []  # (file, row) in the order the bot writes them
    price = 100.0
    for i in range(60):
        t = T0 + i * 60
        price += (-1) ** (i // 3) * 0.7
        written.append(("signals.jsonl", signal("AAPL", t, "long", price, price - 1.5, price + 1.5)))
        written.append(("orders.jsonl", {"order_id": f"o{i}", "symbol": "AAPL", "ts": t + 20,
                                         "price": price + 0.4}))
        if i % 4 == 3:  # closes are rarer: the attribution log is often quiet
            written.append(("attribution.jsonl", close(i, "AAPL", t + 40, price - 0.4)))
    for name, row in written:
        append(all_at_once.logs / name, json.dumps(row) + "\n")
    all_at_once.run("watch", "--once")
    rng = random.Random(5)
    k = 0
    while k < len(written):
        n = rng.randint(1, 25)
        for name, row in written[k:k + n]:
            append(one.logs / name, json.dumps(row) + "\n")
        k += n
        one.run("watch", "--once")
    # Both read to the end, then one more row each, so both settle last.
    last = signal("MSFT", T0 + 3600 * 5, "long", 10, 9, 11)
    for r in (one, all_at_once):
        append(r.logs / "signals.jsonl", json.dumps(last) + "\n")
        r.run("watch", "--once")
    a = json.loads((one.state / "signal_outcomes.json").read_text())
    b = json.loads((all_at_once.state / "signal_outcomes.json").read_text())
    assert a == b
    decided = b["by_symbol"]["AAPL"]["success"] + b["by_symbol"]["AAPL"]["failure"]
    assert decided > 10


def test_a_quiet_source_does_not_hold_back_signal_outcomes(tmp_path):
    """No close for hours, signals and orders all the time: the signals'
    outcomes are decided as their prices come, nothing piles up waiting."""
    from conftest import Root
    r = Root(tmp_path)
    append(r.logs / "attribution.jsonl", json.dumps(close(0, "MSFT", T0, 10)) + "\n")
    rows = []
    for i in range(300):
        t = T0 + 60 + i * 30
        level = 100 + (i % 10)
        rows.append(json.dumps(signal("AAPL", t, "long", level, level - 5, level + 1)))
    append(r.logs / "signals.jsonl", "\n".join(rows) + "\n")
    r.run("watch", "--once")
    append(r.logs / "signals.jsonl", json.dumps(signal("AAPL", T0 + 60 + 300 * 30, "long",
                                                       100, 95, 101)) + "\n")
    r.run("watch", "--once")
    so = json.loads((r.state / "signal_outcomes.json").read_text())
    assert so["waiting"] <= 1
    assert so["by_symbol"]["AAPL"]["success"] > 200


def to_us(ts):
    """Microseconds since the epoch of an ISO-8601 text or epoch number."""
    import datetime
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return round(ts * 1_000_000)
    if not isinstance(ts, str):
        return None
    try:
        d = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (d - epoch) // datetime.timedelta(microseconds=1)


def reference_signal_outcomes(logs, horizon_us=24 * 3600 * 1_000_000):
    """The signal outcomes of the canonical logs, worked out plainly: every
    price with a time, merged by (time, source, line), applied in turn."""
    sides = {"long": 1, "buy": 1, "bullish": 1, "short": -1, "sell": -1, "bearish": -1}
    num = lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    streams = {"attribution.jsonl": 0, "signals.jsonl": 2, "orders.jsonl": 3}
    obs, last = [], {}
    for name, stream in streams.items():
        at = None
        for seq, line in enumerate((logs / name).read_text().splitlines()):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(row, dict):
                continue
            ts, symbol = to_us(row.get("ts")), row.get("symbol")
            if ts is None or not isinstance(symbol, str) or not symbol:
                continue
            if name == "attribution.jsonl":
                event = row.get("event")
                if event == "open":
                    price = num(row.get("entry_price"))
                elif event in ("close", "scale", "partial"):
                    price = num(row.get("exit_price"))
                else:
                    continue
            elif name == "orders.jsonl":
                price = num(row.get("fill_price"))
                price = price if price is not None else num(row.get("price"))
            else:
                price = num(row.get("price"))
            at = ts if at is None else max(at, ts)
            is_signal = name == "signals.jsonl"
            if price is None and not is_signal:
                continue
            obs.append((at, stream, seq, ts, symbol, price, is_signal, row))
        if at is not None:
            last[stream] = at
    obs.sort(key=lambda o: o[:3])
    tally = {}
    pending = []  # [ts, arrival, symbol, side, stop, target]

    def count(symbol, what):
        tally.setdefault(symbol, {"success": 0, "failure": 0, "expired": 0})[what] += 1

    arrival = 0
    for at, stream, _, ts, symbol, price, is_signal, row in obs:
        if any(t != stream and (a < at or (a == at and t < stream)) for t, a in last.items()):
            continue  # still waiting at the end
        for p in sorted(pending):
            if p[0] < at - horizon_us:
                count(p[2], "expired")
                pending.remove(p)
        if price is not None:
            for p in sorted([p for p in pending if p[2] == symbol], key=lambda p: p[1]):
                if p[0] > ts:
                    continue
                hit = price >= p[5] if p[3] > 0 else price <= p[5]
                stop = price <= p[4] if p[3] > 0 else price >= p[4]
                if hit or stop:
                    count(symbol, "success" if hit else "failure")
                    pending.remove(p)
        if is_signal:
            side = sides.get(row.get("side"), 0)
            sl, tp = num(row.get("stop_loss")), num(row.get("take_profit"))
            if side and sl is not None and tp is not None and (sl < tp if side > 0 else tp < sl):
                pending.append([ts, arrival, symbol, side, sl, tp])
                arrival += 1
    for p in pending:
        tally.setdefault(p[2], {"success": 0, "failure": 0, "expired": 0})
    return tally


def test_signal_outcomes_of_a_simulated_bot_match_a_plain_reference(tmp_path):
    from conftest import Root
    r = Root(tmp_path)
    r.run("simulate", "--days", 6, "--seed", 3)
    r.run("watch", "--once")
    so = json.loads((r.state / "signal_outcomes.json").read_text())["by_symbol"]
    got = {k: {x: v[x] for x in ("success", "failure", "expired")} for k, v in so.items()}
    want = reference_signal_outcomes(r.logs)
    assert got == want
    decided = sum(v["success"] + v["failure"] for v in want.values())
    assert decided > 50
