"""The post-market job through the real binary:
`watch --once`, then `daily --date D`, then the files and `report`."""
import datetime
import gzip
import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from conftest import FIXTURE, Root, canonical_close, canonical_open

NEW_YORK = ZoneInfo("America/New_York")
EMPYRICAL_TOL = 1.5e-8  # numpy assert_almost_equal(decimal=8), as empyrical's tests use


# ---- helpers -------------------------------------------------------------------------------


def strict_json(text):
    """json.loads that refuses NaN and ±Infinity: a figure that cannot be
    computed must be written as null."""
    def refuse(constant):
        raise ValueError(f"non-finite number {constant} in JSON")
    return json.loads(text, parse_constant=refuse)


def weekdays(start, n):
    """n Monday–Friday dates from start (inclusive), as YYYY-MM-DD."""
    d = datetime.date.fromisoformat(start)
    out = []
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += datetime.timedelta(days=1)
    return out


class Bot:
    """Canonical-profile attribution rows, written in time order."""

    def __init__(self, root):
        self.root = root
        self.rows = []
        self.next_id = 1

    def trade(self, day, pnl, symbol="AAPL", reason="signal_decay", minute=0):
        """One trade opened 15:00Z + minute and closed an hour later (10:00
        and 11:00 in New York in winter), closing with pnl USD."""
        i = self.next_id
        self.next_id += 1
        hh, mm = divmod(minute, 60)
        opened = f"{day}T{15 + hh:02d}:{mm:02d}:00.000000Z"
        closed = f"{day}T{16 + hh:02d}:{mm:02d}:00.000000Z"
        close = json.loads(canonical_close(i, pnl=pnl, symbol=symbol, ts=closed))
        close["close_reason"] = reason
        self.rows.append((opened, canonical_open(i, symbol=symbol, ts=opened)))
        self.rows.append((closed, json.dumps(close)))

    def write(self):
        with open(self.root.logs / "attribution.jsonl", "w") as f:
            for _, line in sorted(self.rows, key=lambda r: r[0]):
                f.write(line + "\n")


def configure(root, config):
    (root.path / "tradelearn.json").write_text(json.dumps(config, indent=2) + "\n")


def daily(root, day, check=True):
    return root.run("daily", "--date", day, check=check)


def report_of(root, day):
    return strict_json((root.state / "reports" / f"post_market_{day}.json").read_text())


def without_generated_at(report):
    return {k: v for k, v in report.items() if k != "generated_at"}


def zstd_lines(path):
    if not path.exists():
        return []
    out = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return [strict_json(line) for line in out.decode().splitlines()]


def jsonl(path):
    if not path.exists():
        return []
    return [strict_json(line) for line in path.read_text().splitlines()]


def instant(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def reference_returns(r):
    """Sharpe, annual volatility on ddof=1, as empyrical (used for the 7-day
    window, whose figures empyrical does not publish)."""
    mean = sum(r) / len(r)
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))
    return mean / sd * math.sqrt(252), sd * math.sqrt(252)


# ---- 1. metric conventions through the pipeline ---------------------------------------------

# quantopian/empyrical, empyrical/tests/test_stats.py, daily period, risk-free 0.
# None: empyrical answers inf (or 0/0), which the report writes as null.
# "mixed_zero_first" is empyrical's mixed_returns with its leading NaN read as
# a 0 return: the values the test file published at 2cbc9b3 (test_sharpe_ratio
# 1.6368951821422701, test_sortino 2.456518422202588, test_annual_volatility
# 0.8552777326693359); annual return, Calmar and max drawdown are the same
# in every revision. Sharpe, Sortino, volatility and annual return do not
# depend on the order of the days, and the drawdown of this series does not
# move when the flat day is the second one, so "mixed_no_trade_day" checks
# that a trading day without any trade is a 0 return, not a missing day.
EMPYRICAL = {
    "positive": ([.01, .02, .01, .01, .01, .01, .01, .01, .01],
                 {"sharpe": 52.915026221291804, "sortino": None, "max_drawdown": 0.0,
                  "calmar": None}),
    "negative": ([0, -.06, -.07, -.01, -.09, -.02, -.06, -.08, -.05],
                 {"sharpe": -24.406808633910085, "sortino": -13.532743075043401,
                  "max_drawdown": -0.36590730349873601}),
    "mixed_zero_first": ([0, .01, .10, -.04, .02, .03, .02, .01, -.10],
                         {"sharpe": 1.6368951821422701, "sortino": 2.456518422202588,
                          "max_drawdown": -0.1, "annual_return": 1.9135925373194231,
                          "annual_volatility": 0.8552777326693359,
                          "calmar": 19.135925373194233}),
    "mixed_no_trade_day": ([.01, None, .10, -.04, .02, .03, .02, .01, -.10],
                           {"sharpe": 1.6368951821422701, "sortino": 2.456518422202588,
                            "max_drawdown": -0.1, "annual_return": 1.9135925373194231,
                            "annual_volatility": 0.8552777326693359,
                            "calmar": 19.135925373194233}),
    "df_simple_one": ([-0.00171614, 0.01322056, 0.03063862, -0.01422057, -0.00489779,
                       0.01268925, -0.03357711, 0.01797036],
                      {"sortino": 3.0639640966566306}),
    "df_simple_two": ([0.01846232, 0.00793951, -0.01448395, 0.00422537, -0.00339611,
                       0.03756813, 0.0151531, 0.03549769],
                      {"sortino": 38.090963117002495}),
}

CAPITAL = 250000.0  # not the default: the config's capital is the denominator


@pytest.mark.parametrize("name", list(EMPYRICAL))
def test_daily_returns_reproduce_empyricals_published_figures(tmp_path, name):
    returns, published = EMPYRICAL[name]
    root = Root(tmp_path / "root")
    configure(root, {"capital_usd": CAPITAL})
    days = weekdays("2026-01-05", len(returns))
    bot = Bot(root)
    for day, r in zip(days, returns):
        if r is not None:  # None: a trading day without a trade
            bot.trade(day, r * CAPITAL)  # a 0 return is a trade closing at 0 P&L
    bot.write()
    root.run("watch", "--once")
    daily(root, days[-1])
    rep = report_of(root, days[-1])
    assert rep["first_day"] == days[0]
    assert rep["capital_usd"] == CAPITAL
    for window in ("30d", "all"):
        got = rep["windows"][window]["returns"]
        assert got["days"] == len(returns), window
        for field, want in published.items():
            if want is None:
                assert got[field] is None, (window, field, got[field])
            else:
                assert got[field] == pytest.approx(want, abs=EMPYRICAL_TOL), (window, field)
        trades = rep["windows"][window]["trades"]
        traded = [r for r in returns if r is not None]
        assert trades["count"] == len(traded)
        assert trades["wins"] == sum(r > 0 for r in traded)  # a 0 P&L is not a win
    # The two published checks of the return conventions.
    if name == "positive":
        print(f"{name}: Sharpe {rep['windows']['30d']['returns']['sharpe']!r}")
    if name == "negative":
        assert round(rep["windows"]["30d"]["returns"]["max_drawdown"], 4) == -0.3659
    # The 7-day window is the last seven trading days.
    last7 = [r or 0.0 for r in returns[-7:]]
    r7 = rep["windows"]["7d"]["returns"]
    assert r7["days"] == 7
    if len(set(last7)) > 1:
        sharpe, vol = reference_returns(last7)
        assert r7["sharpe"] == pytest.approx(sharpe, rel=1e-9)
        assert r7["annual_volatility"] == pytest.approx(vol, rel=1e-9)
    else:
        assert r7["sharpe"] is None  # a flat week: standard deviation 0


def test_first_day_without_trades_is_not_part_of_the_window(tmp_path):
    root = Root(tmp_path / "root")
    days = weekdays("2026-01-05", 4)
    bot = Bot(root)
    for day in days[1:]:
        bot.trade(day, 500.0)
    bot.write()
    root.run("watch", "--once")
    daily(root, days[-1])
    rep = report_of(root, days[-1])
    assert rep["first_day"] == days[1]
    assert rep["windows"]["all"]["returns"]["days"] == 3


# ---- 2. the report's JSON keys, as the README lists them -------------------------------------

TRADE_FIELDS = {"count", "wins", "losses", "win_rate", "profit_factor", "expectancy",
                "payoff_ratio", "avg_win", "avg_loss", "pnl_usd", "avg_hold_minutes",
                "max_consecutive_wins", "max_consecutive_losses"}
RETURN_FIELDS = {"days", "sharpe", "sortino", "max_drawdown", "calmar", "annual_return",
                 "annual_volatility"}
BREAKDOWNS = {"symbol", "regime", "time_of_day", "day_of_week", "confidence", "exit_reason",
              "side"}
KNOBS = {"min_confidence", "max_positions", "stop_loss_pct", "take_profit_pct",
         "position_size_pct", "orders_per_cycle", "min_trade_gap_minutes"}


def simulated(tmp_path, days=3, seed=7, config=None, malformed=None):
    root = Root(tmp_path / f"sim{seed}")
    truth = tmp_path / f"truth{seed}.json"
    extra = ["--malformed", malformed] if malformed is not None else []
    root.run("simulate", "--days", days, "--seed", seed, "--truth", truth, *extra)
    if config:
        configure(root, config)
    root.run("watch", "--once")
    return root, weekdays("2026-01-05", days)


def test_report_json_has_every_key_the_readme_lists(tmp_path):
    # stale_hours 1: the simulated bot's last opens are listed.
    root, days = simulated(tmp_path, config={"daily": {"stale_hours": 1}})
    day = days[-1]
    daily(root, day)
    text = (root.state / "reports" / f"post_market_{day}.json").read_text()
    rep = strict_json(text)
    assert rep["date"] == day
    assert isinstance(rep["generated_at"], str) and rep["generated_at"].endswith("Z")
    assert TRADE_FIELDS <= set(rep["day"])
    for window in ("7d", "30d", "all"):
        assert TRADE_FIELDS <= set(rep["windows"][window]["trades"]), window
        assert RETURN_FIELDS <= set(rep["windows"][window]["returns"]), window
    assert BREAKDOWNS <= set(rep["breakdowns"])
    for dim in BREAKDOWNS:
        assert rep["breakdowns"][dim], f"breakdown {dim} is empty"
        for key, figures in rep["breakdowns"][dim].items():
            assert TRADE_FIELDS <= set(figures), (dim, key)
    assert {"trades_scored", "log_loss", "auc", "brier", "ece"} <= set(rep["model"])
    assert rep["model"]["trades_scored"] > 0
    assert KNOBS <= set(rep["knobs"])
    saved = strict_json((root.state / "knobs.json").read_text())
    for name, knob in rep["knobs"].items():
        assert {"value", "previous", "reason"} <= set(knob), name
        # Integer knobs are integers in the report as in state/knobs.json.
        assert type(knob["value"]) is type(saved["values"][name]), name
        assert knob["value"] == saved["values"][name], name
    assert isinstance(rep["knobs"]["max_positions"]["value"], int)
    assert {"count", "missed_pnl_usd", "by_reason", "suggestions"} <= set(rep["missed"])
    assert isinstance(rep["missed"]["suggestions"], list)
    assert rep["stale_positions"], "stale_hours 1 lists the day's open positions"
    for p in rep["stale_positions"]:
        assert set(p) == {"symbol", "opened_at", "age_hours"}
        assert p["age_hours"] >= 1
    assert isinstance(rep["retrain"]["triggered"], bool)
    assert isinstance(rep["retrain"]["reasons"], list)
    # Every figure is a number or null, in every file the job writes.
    latest = strict_json((root.state / "reports" / "post_market_latest.json").read_text())
    assert latest == rep
    strict_json((root.state / "baseline_performance.json").read_text())


def test_figures_that_cannot_be_computed_are_null(tmp_path):
    root = Root(tmp_path / "root")
    bot = Bot(root)
    day = "2026-01-07"
    bot.trade(day, 800.0, symbol="MSFT")
    bot.trade(day, 200.0, symbol="AAPL", minute=30)
    bot.write()
    root.run("watch", "--once")
    daily(root, day)
    rep = report_of(root, day)  # refuses NaN and Infinity
    d = rep["day"]
    assert (d["count"], d["wins"], d["losses"]) == (2, 2, 0)
    assert d["profit_factor"] is None  # no losses: neither 0 nor inf
    assert d["avg_loss"] is None and d["payoff_ratio"] is None
    for window in ("7d", "30d", "all"):
        r = rep["windows"][window]["returns"]
        assert r["days"] == 1
        # One day: no standard deviation, no downside, no drawdown to divide by.
        assert r["sharpe"] is None, window
        assert r["sortino"] is None, window
        assert r["annual_volatility"] is None, window
        assert r["calmar"] is None, window
        assert r["max_drawdown"] == 0.0
        assert r["annual_return"] == pytest.approx(1.01 ** 252 - 1, rel=1e-12)
        assert rep["windows"][window]["trades"]["profit_factor"] is None
    assert rep["breakdowns"]["symbol"]["MSFT"]["profit_factor"] is None
    assert rep["model"]["auc"] is None  # one class only: AUC undefined
    # The terminal summary shows a dash for them, never "nan" or "inf".
    out = root.run("report").stdout
    assert not re.search(r"\b(nan|inf)\b", out, re.IGNORECASE), out
    assert "AUC —" in out
    # Two symbols: the better is the best, the other the worst, never both best.
    assert "best symbols (30 days): MSFT +800.00 USD (1 trades)\n" in out
    assert "worst symbols (30 days): AAPL +200.00 USD (1 trades)\n" in out


# ---- 3. the real stock-bot logs -------------------------------------------------------------

needs_fixture = pytest.mark.skipif(
    not (FIXTURE / "attribution.jsonl.gz").exists(),
    reason=f"stock-bot fixture not found at {FIXTURE} (it ships beside the project, not in it)")


@needs_fixture
def test_stock_bot_fixture_daily_counts_the_days_closes(tmp_path):
    root = Root(tmp_path / "root", profile="stock-bot")
    for name in ("attribution", "exit_attribution", "blocked_trades"):
        with gzip.open(FIXTURE / f"{name}.jsonl.gz", "rb") as src, \
                open(root.logs / f"{name}.jsonl", "wb") as dst:
            shutil.copyfileobj(src, dst)
    root.run("watch", "--once")
    # The README's closes per day, in New York time.
    for day, closes in (("2026-02-05", 193), ("2026-02-06", 306), ("2026-02-09", 267),
                        ("2026-02-10", 210)):
        daily(root, day)
        assert report_of(root, day)["day"]["count"] == closes, day
    rep = report_of(root, "2026-02-10")
    assert rep["day"]["count"] == 210
    every = rep["windows"]["all"]["trades"]
    assert every["count"] == 976
    assert every["wins"] == 395
    assert every["win_rate"] == pytest.approx(395 / 976, abs=1e-12)
    assert round(every["pnl_usd"], 2) == -111.98
    assert rep["windows"]["all"]["returns"]["days"] == 4
    assert rep["first_day"] == "2026-02-05"
    # Daily returns divide by the equity the bot logged first that day.
    first_equity = {}
    with gzip.open(FIXTURE / "attribution.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            eq = (row.get("context") or {}).get("account_equity_at_entry")
            if isinstance(eq, (int, float)) and eq > 0:
                at = datetime.datetime.fromisoformat(row["ts"]).astimezone(NEW_YORK)
                day = at.date().isoformat()
                if day not in first_equity or at < first_equity[day][0]:
                    first_equity[day] = (at, eq)
    assert rep["capital_usd"] == first_equity["2026-02-10"][1]
    eq_curve = rep["charts"]["equity"]
    day_return = eq_curve[-1]["equity"] / eq_curve[-2]["equity"] - 1
    assert day_return == pytest.approx(rep["day_pnl_with_partials_usd"] / rep["capital_usd"],
                                       rel=1e-9)
    # Its blocked trades carry a score, no confidence: none qualifies by
    # confidence; with daily.missed_min_score they do.
    assert rep["missed"]["count"] == 0
    (root.path / "tradelearn.json").write_text('{"daily": {"missed_min_score": 4.0}}')
    daily(root, "2026-02-10")
    missed = report_of(root, "2026-02-10")["missed"]
    assert missed["count"] > 0
    lines = subprocess.run(["zstd", "-dc", str(root.state / "missed_signals.jsonl.zst")],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [json.loads(l) for l in lines]
    assert len(rows) == missed["count"]
    assert all(r["score"] >= 4.0 and r["confidence"] is None for r in rows)
    assert {r["reason"] for r in rows} <= set(missed["by_reason"])


# ---- 4. missed opportunities on simulated data ----------------------------------------------


def day_prices(logs, day):
    """(ts, symbol, price) of every observed price of the local day, as
    lib/missed.h defines them: signals' price, orders' fill_price else
    price, opens' entry_price, closes' and partial closes' exit_price."""
    start = datetime.datetime.fromisoformat(day).replace(tzinfo=NEW_YORK)
    end = start + datetime.timedelta(days=1)
    prices, activity = [], []
    for name in ("signals", "orders", "attribution"):
        for line in (logs / f"{name}.jsonl").read_text().splitlines():
            row = json.loads(line)
            ts = instant(row["ts"])
            if not start <= ts < end:
                continue
            if name == "signals":
                p = row.get("price")
            elif name == "orders":
                p = row.get("fill_price") if row.get("fill_price") is not None else row.get("price")
                activity.append((ts, row["symbol"]))
            elif row.get("event") == "open":
                p = row.get("entry_price")
                activity.append((ts, row["symbol"]))
            else:
                p = row.get("exit_price")
            if isinstance(p, (int, float)) and p > 0:
                prices.append((ts, row["symbol"], p))
    return prices, activity, end


def test_missed_signals_are_found_and_priced_from_later_prices(tmp_path):
    root, days = simulated(tmp_path, seed=11, malformed=0)
    day = days[-1]
    daily(root, day)
    rep = report_of(root, day)
    missed = rep["missed"]
    assert missed["count"] > 0
    lines = [m for m in zstd_lines(root.state / "missed_signals.jsonl.zst")]
    assert lines and all(m["day"] == day for m in lines)
    assert len(lines) == missed["count"]
    for m in lines:
        assert {"ret_15m", "ret_30m", "ret_1h", "ret_close"} <= set(m)
        assert m["confidence"] >= 0.60
    known = [m["pnl_usd_1h"] for m in lines if m["pnl_usd_1h"] is not None]
    assert missed["missed_pnl_usd"] == pytest.approx(sum(known), abs=1e-9)
    assert sum(v["count"] for v in missed["by_reason"].values()) == missed["count"]

    prices, activity, end = day_prices(root.logs, day)
    window = datetime.timedelta(minutes=15)
    for m in lines:
        ts = instant(m["ts"])
        # Untraded: no order or open of the symbol within 15 minutes.
        assert not any(s == m["symbol"] and abs(t - ts) <= window for t, s in activity), m
    # One result's 1 h return by hand: the first price of the symbol at or
    # after ts + 1 h, side-adjusted.
    m = next(m for m in lines if m["ret_1h"] is not None)
    ts = instant(m["ts"])
    later = sorted((t, p) for t, s, p in prices
                   if s == m["symbol"] and ts + datetime.timedelta(hours=1) <= t <= end)
    side = 1 if m["side"] == "long" else -1
    want = (later[0][1] / m["price"] - 1) * side
    print(f"missed {m['symbol']} {m['side']} at {m['ts']} price {m['price']}: "
          f"1 h price {later[0][1]} at {later[0][0].isoformat()}, return {want:.6f}")
    assert m["ret_1h"] == pytest.approx(want, abs=1e-12)
    # The close horizon: the last price of the day after the signal.
    last = max((t, p) for t, s, p in prices if s == m["symbol"] and ts < t <= end)
    assert m["ret_close"] == pytest.approx((last[1] / m["price"] - 1) * side, abs=1e-12)


# ---- 5. idempotence -------------------------------------------------------------------------

ALWAYS_FIRES = [{"if": "trades_day >= 1", "knob": "max_positions", "target": 20,
                 "reason": "test"}]


def test_daily_twice_for_a_day_changes_nothing_the_second_time(tmp_path):
    root, days = simulated(tmp_path, seed=5, config={"knob_rules": ALWAYS_FIRES})
    day, next_day = days[-2], days[-1]
    journal = root.state / "knob_adjustments.jsonl"
    missed_file = root.state / "missed_signals.jsonl.zst"

    daily(root, day)
    first = report_of(root, day)
    knobs_after_first = (root.state / "knobs.json").read_text()
    assert first["knobs"]["max_positions"]["previous"] == 10
    assert first["knobs"]["max_positions"]["value"] == 12  # round(0.8·10 + 0.2·20)
    assert first["knobs"]["max_positions"]["reason"] == "test"
    assert [(j["knob"], j["day"], j["value"]) for j in jsonl(journal)] == [
        ("max_positions", day, 12)]
    missed_lines = zstd_lines(missed_file)
    assert first["missed"]["count"] > 0
    assert len(missed_lines) == first["missed"]["count"]

    daily(root, day)
    second = report_of(root, day)
    assert second["generated_at"] >= first["generated_at"]
    assert without_generated_at(second) == without_generated_at(first)
    assert (root.state / "knobs.json").read_text() == knobs_after_first
    assert len(jsonl(journal)) == 1
    assert zstd_lines(missed_file) == missed_lines

    # The next day moves the knob again, from where the day left it, once.
    daily(root, next_day)
    daily(root, next_day)
    nxt = report_of(root, next_day)
    assert nxt["knobs"]["max_positions"]["previous"] == 12
    assert nxt["knobs"]["max_positions"]["value"] == 14  # round(0.8·12 + 0.2·20) = 13.6
    assert [(j["day"], j["previous"], j["value"]) for j in jsonl(journal)] == [
        (day, 10, 12), (next_day, 12, 14)]
    assert {m["day"] for m in zstd_lines(missed_file)} == {day, next_day}
    # An older day run again reports the knobs as they are and moves nothing.
    daily(root, day)
    again = report_of(root, day)
    assert again["knobs"]["max_positions"] == {"value": 14, "previous": 14, "reason": None}
    assert len(jsonl(journal)) == 2
    assert len(zstd_lines(missed_file)) == len(missed_lines) + nxt["missed"]["count"]


# ---- 6. the knob rules through the binary ---------------------------------------------------

W, L = 300.0, -100.0
KNOB_CASES = {
    # 3 losses in a row (3 trades in 7 days: rule 2 needs 3) → smaller size.
    "loss_streak": ([[L, L, L]], {"position_size_pct": (0.05, 0.048, "3 losses in a row")}),
    # 4 wins in 10 (40%), profit factor 2 → min_confidence toward 0.32.
    "losing_week": ([[L, L, W, L, L], [W, L, L, W, W]],
                    {"min_confidence": (0.25, 0.8 * 0.25 + 0.2 * 0.32, "win rate below 45%")}),
    # Half wins, profit factor 2/3 → fewer positions (10 × 0.8 → 9).
    "profit_factor_below_1": ([[200, -300, 200, -300, 200], [-300, 200, -300, 200, -300]],
                              {"max_positions": (10, 9, "profit factor below 1")}),
    # 8 wins in 10, profit factor 16 → more positions (10 × 1.1 → 11, rounded up).
    "winning_week": ([[W, W, L, W, W], [W, L, W, W, W]],
                     {"max_positions": (10, 11, "more positions at once")}),
    # Fewer than 10 trades: only the streak rule may fire, and it does not.
    "too_few_trades": ([[L, L, W, L, W]], {}),
}


@pytest.mark.parametrize("case", list(KNOB_CASES))
def test_knob_rules_move_knobs_with_their_reason(tmp_path, case):
    per_day, moves = KNOB_CASES[case]
    root = Root(tmp_path / "root")
    days = weekdays("2026-01-12", len(per_day))
    bot = Bot(root)
    for day, pnls in zip(days, per_day):
        for k, pnl in enumerate(pnls):
            bot.trade(day, pnl, symbol=["AAPL", "MSFT", "SPY"][k % 3], minute=10 * k)
    bot.write()
    root.run("watch", "--once")
    daily(root, days[-1])
    rep = report_of(root, days[-1])
    journal = jsonl(root.state / "knob_adjustments.jsonl")
    saved = strict_json((root.state / "knobs.json").read_text())
    for name, knob in rep["knobs"].items():
        if name in moves:
            previous, value, why = moves[name]
            assert knob["previous"] == pytest.approx(previous), name
            assert knob["value"] == pytest.approx(value, abs=1e-12), name
            assert why in knob["reason"], (name, knob["reason"])
            assert saved["values"][name] == pytest.approx(value, abs=1e-12)
        else:
            assert knob["reason"] is None, (name, knob)
            assert knob["value"] == knob["previous"], name
    assert sorted(j["knob"] for j in journal) == sorted(moves)
    for j in journal:
        assert j["day"] == days[-1]
        assert j["value"] == pytest.approx(moves[j["knob"]][1], abs=1e-12)
        assert moves[j["knob"]][2] in j["reason"]


# ---- 7. the HTML page -----------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(HTMLParser):
    """Checks that tags balance and collects svg ids, scripts and links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.svgs, self.links, self.scripts = [], [], [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "svg":
            self.svgs.append(a.get("id"))
        for key in ("src", "href"):
            if key in a:
                self.links.append(a[key])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def parse_page(path):
    p = Page()
    p.feed(path.read_text())
    p.close()
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed: {p.stack}"
    assert p.scripts == 0
    return p


def own_link(link):
    return link.startswith("#") or link == "index.html" or (
        link.startswith("post_market_") and link.endswith((".html", ".json")) and "/" not in link)


def test_html_page_is_self_contained_with_four_charts(tmp_path):
    root, days = simulated(tmp_path, seed=3)
    for day in days[-2:]:
        daily(root, day)
    reports = root.state / "reports"
    page = parse_page(reports / f"post_market_{days[-1]}.html")
    assert page.svgs == ["chart-equity", "chart-drawdown", "chart-win-rate-by-hour",
                         "chart-calibration"]
    assert all(own_link(link) for link in page.links), page.links
    index = parse_page(reports / "index.html")
    assert all(own_link(link) for link in index.links), index.links
    for day in days[-2:]:
        assert f"post_market_{day}.html" in index.links
        assert (reports / f"post_market_{day}.html").exists()


# ---- 8. the commands ------------------------------------------------------------------------


def test_report_prints_the_day_windows_symbols_knobs_and_retrain(tmp_path):
    root, days = simulated(tmp_path, seed=5)
    day = days[-1]
    daily(root, day)
    rep = report_of(root, day)
    out = root.run("report").stdout
    assert f"post-market report {day}" in out
    assert "30 days" in out and "closed trades" in out and "Sharpe" in out
    assert f"{rep['day']['count']}" in out
    assert f"{rep['windows']['30d']['trades']['count']}" in out
    by_pnl = sorted(rep["breakdowns"]["symbol"].items(), key=lambda kv: -kv[1]["pnl_usd"])
    assert f"best symbols (30 days): {by_pnl[0][0]} " in out
    assert f"worst symbols (30 days): {by_pnl[-1][0]} " in out
    assert "knobs: " in out
    assert ("retrain: due" if rep["retrain"]["triggered"] else "retrain: not due") in out
    for reason in rep["retrain"]["reasons"]:
        assert reason in out
    assert f"page: {root.state}/reports/post_market_{day}.html" in out
    assert not re.search(r"\b(nan|inf)\b", out, re.IGNORECASE), out
    # --json: the file itself; a date picks the day.
    assert strict_json(root.run("report", "--json").stdout) == rep
    assert strict_json(root.run("report", day, "--json").stdout) == rep


def test_report_for_a_day_without_a_report_fails_clearly(tmp_path):
    root, days = simulated(tmp_path, days=1, seed=2)
    p = root.run("report", "2001-01-01", check=False)
    assert p.returncode == 1
    assert "no report for 2001-01-01" in p.stderr
    assert "tradelearn daily --date 2001-01-01" in p.stderr
    p = root.run("report", check=False)
    assert p.returncode == 1 and "no report yet" in p.stderr


def test_daily_refuses_a_day_that_is_not_a_trading_day(tmp_path):
    root, _ = simulated(tmp_path, days=1, seed=2)
    p = daily(root, "2026-02-07", check=False)
    assert p.returncode == 1
    assert "2026-02-07 is not a trading day" in p.stderr
    assert not (root.state / "reports" / "post_market_2026-02-07.json").exists()
    p = root.run("daily", "--date", "2026-02-30", check=False)
    assert p.returncode == 2 and "not a date" in p.stderr


def test_daily_refuses_a_bad_config_key_naming_it_and_its_line(tmp_path):
    root = Root(tmp_path / "root")
    (root.path / "tradelearn.json").write_text('{\n  "daily": {\n    "stale_hourz": 3\n  }\n}\n')
    for cmd in (("daily", "--date", "2026-02-06"), ("report",)):
        p = root.run(*cmd, check=False)
        assert p.returncode == 1, cmd
        assert "tradelearn.json:3: daily.stale_hourz: unknown key" in p.stderr, p.stderr
    assert not (root.state / "reports").exists()


# ---- 9. retrain triggers --------------------------------------------------------------------


def test_win_rate_8_points_below_baseline_triggers_a_retrain(tmp_path):
    root = Root(tmp_path / "root")
    days = weekdays("2026-01-12", 3)
    bot = Bot(root)
    for day in days:  # 1 win in 4 each day: 25% over 12 trades
        for k, pnl in enumerate([-50.0, 120.0, -50.0, -40.0]):
            bot.trade(day, pnl, minute=15 * k)
    bot.write()
    root.run("watch", "--once")
    root.state.mkdir(exist_ok=True)
    baseline = {"format": 1, "set_for_day": "2026-01-09", "source": "test", "win_rate": 0.6,
                "accuracy": None, "profit_factor": None, "sharpe_7d": None,
                "last_retrain": days[0]}
    (root.state / "baseline_performance.json").write_text(json.dumps(baseline))
    daily(root, days[-1])
    rep = report_of(root, days[-1])
    assert rep["retrain"]["triggered"] is True
    reasons = [r for r in rep["retrain"]["reasons"] if "win rate" in r]
    assert len(reasons) == 1, rep["retrain"]
    assert "25.0%" in reasons[0] and "60.0%" in reasons[0] and "baseline" in reasons[0]
    # The job does not overwrite a baseline it did not create.
    assert strict_json((root.state / "baseline_performance.json").read_text()) == baseline


def test_win_rate_within_8_points_of_baseline_triggers_nothing(tmp_path):
    root = Root(tmp_path / "root")
    days = weekdays("2026-01-12", 3)
    bot = Bot(root)
    for day in days:  # 2 wins in 4: 50%, profit factor 2.5, Sharpe high
        for k, pnl in enumerate([-50.0, 120.0, -50.0, 130.0]):
            bot.trade(day, pnl + days.index(day), minute=15 * k)
    bot.write()
    root.run("watch", "--once")
    root.state.mkdir(exist_ok=True)
    (root.state / "baseline_performance.json").write_text(json.dumps(
        {"format": 1, "win_rate": 0.57, "last_retrain": days[0]}))
    daily(root, days[-1])
    rep = report_of(root, days[-1])
    assert not any("win rate" in r for r in rep["retrain"]["reasons"]), rep["retrain"]


# ---- which day a trade belongs to -----------------------------------------------------------


def test_trades_belong_to_their_new_york_day_and_weekend_closes_to_monday(tmp_path):
    root = Root(tmp_path / "root")
    rows = [
        # Thursday 22:00 in New York, already Friday in UTC: Thursday's.
        canonical_open(1, ts="2026-01-08T20:00:00Z"),
        canonical_close(1, pnl=100.0, ts="2026-01-09T03:00:00Z"),
        # Friday's.
        canonical_open(2, ts="2026-01-09T15:00:00Z"),
        canonical_close(2, pnl=-40.0, ts="2026-01-09T16:00:00Z"),
        # Closed on Saturday: realized by Monday's report.
        canonical_open(3, ts="2026-01-09T20:00:00Z"),
        canonical_close(3, pnl=25.0, ts="2026-01-10T15:00:00Z"),
        # A partial close and the rest of the trade on Monday: one trade,
        # both P&Ls in the day's return.
        canonical_open(4, ts="2026-01-12T15:00:00Z"),
        json.dumps({**json.loads(canonical_close(4, pnl=30.0, event="scale",
                                                 ts="2026-01-12T15:30:00Z")), "fraction": 0.5}),
        canonical_close(4, pnl=10.0, ts="2026-01-12T16:00:00Z"),
    ]
    (root.logs / "attribution.jsonl").write_text("\n".join(rows) + "\n")
    root.run("watch", "--once")
    for day, count, pnl in (("2026-01-08", 1, 100.0), ("2026-01-09", 1, -40.0),
                            ("2026-01-12", 2, 35.0)):
        daily(root, day)
        rep = report_of(root, day)
        assert (rep["day"]["count"], rep["day"]["pnl_usd"]) == (count, pnl), day
    assert rep["day_pnl_with_partials_usd"] == pytest.approx(65.0)
    equity = [e["equity"] for e in rep["charts"]["equity"]]
    assert [e["date"] for e in rep["charts"]["equity"]] == ["2026-01-08", "2026-01-09",
                                                             "2026-01-12"]
    assert equity[-1] == pytest.approx(1.001 * (1 - 0.0004) * (1 + 0.00065), rel=1e-12)


def test_stale_positions_are_open_longer_than_the_limit_at_the_days_end(tmp_path):
    root = Root(tmp_path / "root")
    rows = [
        canonical_open(1, symbol="TSLA", ts="2026-01-12T15:00:00Z"),  # Monday, never closed
        canonical_open(2, symbol="NVDA", ts="2026-01-14T15:00:00Z"),  # Wednesday, 14 h
        canonical_open(3, symbol="AAPL", ts="2026-01-14T15:30:00Z"),
        canonical_close(3, pnl=5.0, symbol="AAPL", ts="2026-01-14T16:00:00Z"),
    ]
    (root.logs / "attribution.jsonl").write_text("\n".join(rows) + "\n")
    root.run("watch", "--once")
    daily(root, "2026-01-14")
    stale = report_of(root, "2026-01-14")["stale_positions"]
    # The day ends at midnight in New York, 05:00Z: Monday 15:00Z is 62 h before.
    assert stale == [{"symbol": "TSLA", "opened_at": "2026-01-12T15:00:00.000000Z",
                      "age_hours": 62.0}]


def test_daily_without_a_date_reports_the_last_completed_trading_day(tmp_path):
    root = Root(tmp_path / "root")
    bot = Bot(root)
    for day in ("2026-01-08", "2026-01-09"):
        bot.trade(day, 10.0)
    bot.write()
    root.run("watch", "--once")
    # Saturday morning: Friday's 16:05 slot has passed.
    env = {**os.environ, "TRADELEARN_TEST_CLOCK": "2026-01-10T14:00:00Z"}
    p = subprocess.run(root.args("daily"), capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "daily 2026-01-09:" in p.stderr
    rep = report_of(root, "2026-01-09")
    assert rep["generated_at"].startswith("2026-01-10T14:00")
    # Friday 15:00 in New York: the slot has not come yet, Thursday it is.
    env["TRADELEARN_TEST_CLOCK"] = "2026-01-09T20:00:00Z"
    p = subprocess.run(root.args("daily"), capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and "daily 2026-01-08:" in p.stderr, p.stderr
