"""The profile language as a user meets it: a bot that is not the canonical
one mapped by a config file alone (named features, categories, strategy,
value maps, derived P&L and hold time, sessions, the knobs it has), and the
configs that are refused with FILE:LINE: key: problem."""
import datetime
import json
import random
import subprocess

from conftest import BIN, Root

UTC = datetime.timezone.utc
MINUS_7 = datetime.timezone(datetime.timedelta(hours=-7))
DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]

SESSIONS = [{"name": "asia", "from": "00:00", "to": "08:00"},
            {"name": "europe", "from": "08:00", "to": "16:00"},
            {"name": "americas", "from": "16:00", "to": "00:00"}]


def crypto_profile(**fields):
    """A crypto futures bot: one file of finished trades without ids, epoch
    exit times and ISO entry times at -07:00, LONG/long/SHORT sides, net P&L
    in USD and its notional, scalar features in the row."""
    mapped = {
        "ts": "/exit_ts", "entry_ts": "/entry_ts", "symbol": "/symbol",
        "side": {"pointer": "/direction",
                 "equals": {"long": "long", "LONG": "long", "SHORT": "short"}},
        "pnl_usd": "/net_pnl",
        "pnl_pct": {"ratio": ["/net_pnl", "/notional_size"]},
        "hold_minutes": {"difference": ["/exit_ts", "/entry_ts"]},
        "strategy": "/strategy",
        "components": {"leverage": "/leverage", "notional": "/notional_size",
                       "hedged": "/hedged"},
        "categories": {"venue": "/venue"},
    }
    mapped.update(fields)
    for k in [k for k, v in mapped.items() if v is None]:
        del mapped[k]
    return {"pnl_unit": "percent",
            "sources": {"attribution": {"file": "trades.jsonl", "kind": "close",
                                        "key": ["/symbol", "/exit_ts"], "fields": mapped}}}


def crypto_config(profile=None, **top):
    config = {"profile": "crypto", "exchange_timezone": "UTC",
              "schedule": {"trading_days": "every day"}, "sessions": SESSIONS,
              "profiles": {"crypto": profile or crypto_profile()}}
    config.update(top)
    return config


def crypto_rows(seed=3, per_day=40, flat_sides=2):
    """Rows in exit order. The venue and the strategy carry the outcome, so
    the model has something to learn from them."""
    rng = random.Random(seed)
    rows = []
    for day in DAYS:
        start = datetime.datetime.fromisoformat(day).replace(tzinfo=UTC)
        for i in range(per_day):
            entry = start + datetime.timedelta(minutes=30 * i + rng.randrange(5))
            exit_ = entry + datetime.timedelta(minutes=rng.randrange(5, 25))
            venue = rng.choice(["binance", "bybit"])
            strategy = rng.choice(["breakout", "meanrev"])
            edge = (0.6 if venue == "binance" else -0.6) + (0.3 if strategy == "breakout" else 0)
            notional = round(rng.uniform(500, 5000), 2)
            net = round(notional * 0.004 * (edge + rng.gauss(0, 1)), 2)
            rows.append({
                "symbol": rng.choice(["BTCUSDT", "ETHUSDT"]),
                "exit_ts": int(exit_.timestamp()),
                "entry_ts": entry.astimezone(MINUS_7).isoformat(),
                "direction": rng.choice(["long", "LONG", "SHORT"]),
                "net_pnl": net, "notional_size": notional,
                "leverage": rng.choice([5, 10, 20]), "hedged": rng.random() < 0.3,
                "venue": venue, "strategy": strategy,
            })
    for k in range(flat_sides):
        rows[5 + k]["direction"] = "flat"
    return rows


def crypto_root(tmp_path, config=None, rows=None, name="crypto"):
    root = Root(tmp_path / name, profile="crypto")
    (root.path / "tradelearn.json").write_text(json.dumps(config or crypto_config(), indent=2))
    with open(root.logs / "trades.jsonl", "w") as f:
        for row in rows if rows is not None else crypto_rows():
            f.write(json.dumps(row) + "\n")
    return root


def report_of(root, day):
    return json.loads((root.state / "reports" / f"post_market_{day}.json").read_text())


def refused(tmp_path, config, name="bad"):
    """The message of a command given config: the exit status and stderr."""
    root = tmp_path / name
    (root / "logs").mkdir(parents=True)
    (root / "tradelearn.json").write_text(json.dumps(config, indent=1))
    p = subprocess.run([BIN, "--root", str(root), "status"], capture_output=True, text=True)
    assert p.returncode != 0, p.stdout
    return p.stderr, str(root / "tradelearn.json")


def line_of(path, needle):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if needle in line:
                return n
    raise AssertionError(f"{needle} not in {path}")


# ---- features, categories, strategy, sessions: the model and the report -------------------


def test_a_bots_named_features_categories_and_strategy_reach_the_model_and_the_report(tmp_path):
    rows = crypto_rows()
    root = crypto_root(tmp_path, rows=rows)
    root.run("watch", "--once")
    outcomes = root.outcomes()
    assert len(outcomes) == len(rows)
    assert round(sum(o["pnl_usd"] for o in outcomes), 2) == round(sum(r["net_pnl"] for r in rows), 2)
    first, row = outcomes[0], rows[0]
    assert first["components"] == {"leverage": row["leverage"], "notional": row["notional_size"],
                                   "hedged": 1.0 if row["hedged"] else 0.0}
    assert first["categories"] == {"venue": row["venue"], "strategy": row["strategy"]}
    assert first["strategy"] == row["strategy"]
    # The unleveraged return, and the hold time across an epoch and an offset.
    assert abs(first["pnl_frac"] - row["net_pnl"] / row["notional_size"]) < 1e-12
    exit_ = datetime.datetime.fromtimestamp(row["exit_ts"], UTC)
    entry = datetime.datetime.fromisoformat(row["entry_ts"])
    assert abs(first["hold_minutes"] - (exit_ - entry).total_seconds() / 60) < 1e-9
    # Sessions in place of the US equity buckets.
    assert {o["time_of_day"] for o in outcomes} <= {"asia", "europe", "americas"}

    model = json.loads((root.path / "models" / "online.json").read_text())
    assert {"leverage", "notional", "hedged"} <= set(model["numeric"])
    assert {"venue", "strategy"} <= set(model["categorical"]["fields"])
    weights = model["categorical"]["weights"]
    assert weights["venue=binance"] > weights["venue=bybit"]
    assert "strategy=breakout" in weights
    assert model["time_of_day_buckets"].startswith("exchange time: asia 00:00-08:00")

    # score reads the categories of a candidate by name.
    p = subprocess.run(root.args("score"), input='{"venue": "binance", "symbol": "BTCUSDT"}\n'
                       '{"venue": "bybit", "symbol": "BTCUSDT"}\n', capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    good, bad = map(float, p.stdout.split())
    assert good > bad

    root.run("daily", "--date", DAYS[-1])
    rep = report_of(root, DAYS[-1])
    assert set(rep["breakdowns"]["strategy"]) == {"breakout", "meanrev"}
    assert set(rep["breakdowns"]["venue"]) == {"binance", "bybit"}
    assert sum(g["count"] for g in rep["breakdowns"]["strategy"].values()) == len(rows)
    assert set(rep["breakdowns"]["time_of_day"]) <= {"asia", "europe", "americas"}
    assert rep["pnl_basis"].startswith("pnl_pct /net_pnl / /notional_size (a ratio)")
    html = (root.state / "reports" / f"post_market_{DAYS[-1]}.html").read_text()
    assert "<h3>Strategy</h3>" in html and "<h3>venue</h3>" in html
    assert "P&amp;L fractions: pnl_pct /net_pnl / /notional_size (a ratio)" in html


# ---- the leak guard, both ways -----------------------------------------------------------------


def test_components_at_the_whole_row_is_refused_naming_the_key(tmp_path):
    err, path = refused(tmp_path, crypto_config(crypto_profile(components="")))
    line = line_of(path, '"components": ""')
    assert (f"{path}:{line}: profiles.crypto.sources.attribution.fields.components: "
            '"" is the whole row, which holds /net_pnl, the pnl_usd this profile maps') in err


def test_a_feature_pointing_at_the_pnl_is_refused_naming_the_key(tmp_path):
    err, path = refused(tmp_path, crypto_config(crypto_profile(
        components={"leverage": "/leverage", "result": "/net_pnl"})))
    line = line_of(path, '"result": "/net_pnl"')
    assert (f"{path}:{line}: profiles.crypto.sources.attribution.fields.components.result: "
            "/net_pnl reaches /net_pnl, the pnl_usd this profile maps") in err


def test_features_known_at_entry_are_accepted_beside_the_outcome(tmp_path):
    # The notional is the ratio's base, known at entry: not a leak.
    root = crypto_root(tmp_path)
    assert root.run("status").returncode == 0


# ---- value maps: unmapped values are counted, shown, and kept in the state -------------------


def test_sides_outside_the_map_are_counted_in_status_and_verify(tmp_path):
    root = crypto_root(tmp_path, rows=crypto_rows(flat_sides=3))
    root.run("watch", "--once")
    st = json.loads(root.run("status", "--json").stdout)
    assert st["sources"]["attribution"]["unmapped"] == {"side": 3}
    assert "unmapped attribution side: 3 values outside its map" in root.run("status").stdout
    verify = root.run("verify").stdout
    assert "unmapped side: 3 in the logs, 3 counted" in verify
    # Never silently null: the three are trades with an unknown side.
    assert sum(o["side"] is None for o in root.outcomes()) == 3
    # The count is in the committed state, and survives a restart.
    assert root.state_json()["sources"]["attribution"]["unmapped"] == {"side": 3}


def test_a_state_written_before_unmapped_counts_still_loads(tmp_path):
    root = crypto_root(tmp_path)
    root.run("watch", "--once")
    path = root.state / "learning_processing_state.json"
    st = json.loads(path.read_text())
    for source in st["sources"].values():
        del source["unmapped"]
        del source["features_skipped"]
    st.pop("checksum")  # an earlier version wrote none
    path.write_text(json.dumps(st))
    (root.state / "learning_processing_state.json.prev").unlink(missing_ok=True)
    out = json.loads(root.run("status", "--json").stdout)
    assert out["sources"]["attribution"]["unmapped"] == {}
    assert root.run("verify").returncode == 0


# ---- knobs the bot has, moved only on new evidence -------------------------------------------

ALWAYS_FIRES = [{"if": "trades_7d >= 1", "knob": "max_positions", "target": 20, "reason": "test"},
                {"if": "trades_7d >= 1", "knob": "min_confidence", "target": 0.5,
                 "reason": "test"}]


def test_an_empty_knobs_list_moves_no_knob(tmp_path):
    profile = crypto_profile()
    profile["knobs"] = []
    root = crypto_root(tmp_path, crypto_config(profile, knob_rules=ALWAYS_FIRES))
    root.run("watch", "--once")
    root.run("daily", "--date", DAYS[-1])
    assert report_of(root, DAYS[-1])["knobs"] == {}
    assert json.loads((root.state / "knobs.json").read_text())["values"] == {}
    journal = root.state / "knob_adjustments.jsonl"
    assert not journal.exists() or journal.read_text() == ""


def test_knobs_json_holds_only_the_listed_knobs(tmp_path):
    profile = crypto_profile()
    profile["knobs"] = ["min_confidence"]
    root = crypto_root(tmp_path, crypto_config(profile, knob_rules=ALWAYS_FIRES))
    root.run("watch", "--once")
    root.run("daily", "--date", DAYS[-1])
    assert set(json.loads((root.state / "knobs.json").read_text())["values"]) == {"min_confidence"}
    assert report_of(root, DAYS[-1])["knobs"]["min_confidence"]["reason"] == "test"


def test_daily_twice_on_a_day_after_the_data_ends_moves_no_knob(tmp_path):
    root = crypto_root(tmp_path, crypto_config(knob_rules=ALWAYS_FIRES))
    root.run("watch", "--once")
    root.run("daily", "--date", DAYS[-1])
    moved = report_of(root, DAYS[-1])["knobs"]["max_positions"]
    assert (moved["previous"], moved["value"]) == (10, 12)
    journal = (root.state / "knob_adjustments.jsonl").read_text()
    after = "2026-03-05"  # no trade closes on it: the 7 days still hold the same ones
    for _ in range(2):
        root.run("daily", "--date", after)
        knobs = report_of(root, after)["knobs"]
        assert knobs["max_positions"] == {"value": 12, "previous": 12, "reason": None}
        assert knobs["min_confidence"]["value"] == knobs["min_confidence"]["previous"]
        assert (root.state / "knob_adjustments.jsonl").read_text() == journal
    # New evidence moves them again.
    rows = crypto_rows(seed=9, per_day=3)
    with open(root.logs / "trades.jsonl", "a") as f:
        for row in rows:
            row["exit_ts"] += 3 * 86400
            f.write(json.dumps(row) + "\n")
    root.run("watch", "--once")
    root.run("daily", "--date", "2026-03-06")
    assert report_of(root, "2026-03-06")["knobs"]["max_positions"]["previous"] == 12
    assert report_of(root, "2026-03-06")["knobs"]["max_positions"]["value"] == 14


# ---- refused at load -----------------------------------------------------------------------------


def test_an_unknown_profile_name_is_refused_with_file_and_line(tmp_path):
    err, path = refused(tmp_path, {"exchange_timezone": "UTC", "profile": "nosuch"})
    line = line_of(path, '"profile": "nosuch"')
    assert f'{path}:{line}: profile: unknown profile "nosuch"' in err


def test_a_trade_source_without_a_key_or_trade_id_is_refused(tmp_path):
    profile = crypto_profile()
    del profile["sources"]["attribution"]["key"]
    err, path = refused(tmp_path, crypto_config(profile))
    line = line_of(path, '"attribution"')
    assert (f"{path}:{line}: profiles.crypto.sources.attribution.key: is required: a close "
            "needs a stable trade key") in err


def test_a_side_map_to_something_other_than_long_or_short_is_refused(tmp_path):
    err, path = refused(tmp_path, crypto_config(crypto_profile(
        side={"pointer": "/direction", "equals": {"LONG": "long", "SHORT": "sell"}})))
    line = line_of(path, '"SHORT": "sell"')
    assert (f'{path}:{line}: profiles.crypto.sources.attribution.fields.side.equals.SHORT: '
            'must be "long" or "short"') in err


def test_an_empty_pointer_and_an_empty_map_are_refused(tmp_path):
    err, path = refused(tmp_path, crypto_config(crypto_profile(symbol="")), name="p")
    assert (f"{path}:{line_of(path, chr(34) + 'symbol' + chr(34) + ': ' + chr(34) * 2)}: "
            "profiles.crypto.sources.attribution.fields.symbol: the empty pointer") in err
    err, path = refused(tmp_path, crypto_config(crypto_profile(categories={})), name="m")
    assert (f"{path}:{line_of(path, chr(34) + 'categories' + chr(34))}: "
            "profiles.crypto.sources.attribution.fields.categories: is empty") in err


def test_daily_after_the_data_ends_moves_no_knob_of_the_simulated_stock_bot(tmp_path):
    # The same through the built-in canonical profile: every default knob.
    root = Root(tmp_path / "sim")
    root.run("simulate", "--days", 2, "--seed", 4)
    (root.path / "tradelearn.json").write_text(json.dumps({"knob_rules": ALWAYS_FIRES}))
    root.run("watch", "--once")
    root.run("daily", "--date", "2026-01-06")
    before = json.loads((root.state / "knobs.json").read_text())["values"]
    assert before["max_positions"] == 12
    for day in ("2026-01-07", "2026-01-07", "2026-01-08"):
        root.run("daily", "--date", day)
        assert json.loads((root.state / "knobs.json").read_text())["values"] == before, day
        assert all(k["reason"] is None for k in report_of(root, day)["knobs"].values()), day
