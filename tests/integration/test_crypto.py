"""The crypto futures bot of `simulate --profile crypto`, mapped by the README's
worked example (cmd/sim/crypto.json): context rows joined to trades by symbol
and time, one online model per timeframe."""
import json
import random
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime

from conftest import BIN, PROJECT, Root
from test_learning import spearman
from test_scoring import readme_scorer

CONFIG = PROJECT / "cmd" / "sim" / "crypto.json"
SIGNALS = ["trend", "volume_z", "book_imbalance", "volatility", "funding_z", "rsi_dev"]


def crypto_root(path, days=20, seed=5, config=None):
    """A root with the worked example's config and the simulated bot's two files."""
    r = Root(path, profile="crypto")
    (r.path / "tradelearn.json").write_text(json.dumps(config) if config else CONFIG.read_text())
    truth = r.path / "truth.json"
    r.run("simulate", "--profile", "crypto", "--days", days, "--seed", seed, "--truth", truth)
    return r, json.loads(truth.read_text())


def config_with(**learner):
    c = json.loads(CONFIG.read_text())
    c["learner"].update(learner)
    return c


def online(r):
    return json.loads((r.path / "models" / "online.json").read_text())


def learned_state(r):
    """The committed learned state, without what a commit stamps on it."""
    st = r.state_json()
    gen = json.loads((r.state / st["learner_file"]).read_text())
    return {k: gen[k] for k in ("learner", "weights", "open_positions", "join", "equity")}


def test_the_crypto_bot_with_its_readme_config_learns_every_trade_once_with_the_simulators_wins_and_pnl(tmp_path):
    r, truth = crypto_root(tmp_path / "root")
    r.run("watch", "--once")
    got = r.outcomes()
    assert len(got) == truth["closes"]
    assert len({o["trade_id"] for o in got}) == truth["closes"]
    assert sum(o["pnl_usd"] > 0 for o in got) == truth["wins"]
    assert round(sum(o["pnl_usd"] for o in got), 2) == round(truth["closes_pnl_usd"], 2)
    # mixed-case sides and both timestamp forms were read
    assert {o["side"] for o in got} == {"long", "short"}
    assert all(o["entry_ts"] and o["exit_ts"] for o in got)
    for name, seg in truth["segments"].items():
        mine = [o for o in got if o["timeframe"] == name]
        assert len(mine) == seg["trades"]
        assert round(sum(o["pnl_usd"] for o in mine), 2) == round(seg["pnl_usd"], 2)
    status = json.loads(r.run("status", "--json").stdout)
    assert status["context"]["matched"] == truth["closes"]
    assert status["context"]["unmatched"] == 0
    assert status["context"]["pending"] == 0
    assert status["sources"]["context"]["records_read"] == truth["contexts"]


def test_context_fields_are_learned_from_and_each_timeframes_model_recovers_its_planted_weights(tmp_path):
    r, truth = crypto_root(tmp_path / "root")
    r.run("watch", "--once")
    got = r.outcomes()
    # the context row's signals and regime reached every trade
    assert all(set(SIGNALS) <= set(o["components"]) for o in got)
    assert all(o["regime"] for o in got)
    model = online(r)
    assert model["segments"]["by"] == "timeframe"
    for name, seg in truth["segments"].items():
        m = model["segments"]["models"][name]
        assert m["in_use"] is True
        assert m["trades_learned"] == seg["trades"]
        planted = [seg["components"][n] for n in SIGNALS]
        learned = [m["numeric"][n]["weight"] for n in SIGNALS]
        rho = spearman(learned, planted)
        print(f"{name}: Spearman {rho:.3f}, learned {[round(w, 2) for w in learned]}")
        assert rho >= 0.8, (name, rho, learned, planted)


def test_the_segmented_models_progressive_auc_is_above_one_model_of_both_timeframes(tmp_path):
    seg, truth = crypto_root(tmp_path / "segmented")
    seg.run("watch", "--once")
    one, _ = crypto_root(tmp_path / "single", config=config_with(segment_by="none"))
    one.run("watch", "--once")
    segmented = online(seg)["metrics"]["auc"]
    single = online(one)["metrics"]["auc"]
    shared = online(seg)["segments"]["shared_metrics"]["auc"]
    print(f"progressive AUC: segmented {segmented:.4f}, single {single:.4f}, "
          f"oracle {truth['oracle_auc']:.4f}")
    assert "segments" not in online(one)
    assert shared == single  # the shared model is the unsegmented one
    assert segmented > single + 0.05
    # the daily report shows each segment's health
    seg.run("daily", "--date", "2026-01-20")
    report = json.loads((seg.state / "reports" / "post_market_2026-01-20.json").read_text())
    health = report["model"]["segments"]
    assert set(health["models"]) == set(truth["segments"])
    assert health["shared"]["auc"] == shared


def test_score_uses_the_model_of_the_candidates_timeframe(tmp_path):
    r, _ = crypto_root(tmp_path / "root")
    r.run("watch", "--once")
    model = online(r)
    lines = []
    for tf in ("5m", "1h"):
        lines.append(json.dumps({"symbol": "BTCUSDT", "side": "long", "timeframe": tf,
                                 "components": {"trend": 2.0, "rsi_dev": 0.0}}))
    p = subprocess.run([BIN, "--root", str(r.path), "score"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, check=True)
    p5, p1 = (float(x) for x in p.stdout.split())
    # trend is planted positive in 5m and negative in 1h
    assert p5 > 0.5 > p1

    # the README's scorer picks the same segment and gives the same probability
    score = readme_scorer()["score"]
    for line, p in zip(lines, (p5, p1)):
        assert abs(score(model, json.loads(line)) - p) < 1e-12


def test_the_readmes_worked_example_is_the_config_that_ships(tmp_path):
    text = (PROJECT / "README.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)
              if '"profiles"' in b and '"crypto"' in b]
    assert blocks == [json.loads(CONFIG.read_text())]


def split_files(r):
    trades = r.logs / "trades.jsonl"
    context = r.logs / "context.jsonl"
    return trades.read_bytes(), context.read_bytes(), trades, context


def test_joined_sources_give_the_same_trades_and_learned_state_whichever_file_is_read_first(tmp_path):
    both, truth = crypto_root(tmp_path / "both", days=6)
    both.run("watch", "--once")
    trades_bytes, context_bytes, _, _ = split_files(both)
    results = {}
    for first in ("trades", "context"):
        r = Root(tmp_path / f"{first}-first", profile="crypto")
        shutil.copy(both.path / "tradelearn.json", r.path / "tradelearn.json")
        order = [("trades.jsonl", trades_bytes), ("context.jsonl", context_bytes)]
        if first == "context":
            order.reverse()
        (r.logs / order[0][0]).write_bytes(order[0][1])
        r.run("watch", "--once")
        status = json.loads(r.run("status", "--json").stdout)
        if first == "trades":
            # no context row has come yet: every trade waits, none is learned
            assert r.outcomes() == []
            assert status["context"]["pending"] == truth["closes"]
        else:
            assert status["context"]["contexts_waiting"] == truth["contexts"]
        (r.logs / order[1][0]).write_bytes(order[1][1])
        r.run("watch", "--once")
        results[first] = r
    want = both.outcomes()
    assert len(want) == truth["closes"]
    for first, r in results.items():
        assert r.outcomes() == want, first
        assert learned_state(r) == learned_state(both), first


def test_joined_sources_survive_20_kill_9_restarts_exactly(tmp_path):
    config = json.loads(CONFIG.read_text())
    config["batch_lines"] = 3
    steady, truth = crypto_root(tmp_path / "steady", days=6, config=config)
    steady.run("watch", "--once")
    killed = Root(tmp_path / "killed", profile="crypto")
    shutil.copy(steady.path / "tradelearn.json", killed.path / "tradelearn.json")
    trades_bytes, context_bytes, _, _ = split_files(steady)
    rng = random.Random(11)
    trades = [(datetime.fromisoformat(json.loads(l)["closed_at"]).timestamp(), l)
              for l in trades_bytes.decode().splitlines(keepends=True)]
    contexts = [(json.loads(l)["time"], l) for l in context_bytes.decode().splitlines(keepends=True)]
    start, end = contexts[0][0], trades[-1][0]
    # the two files grow as a bot writes them (each row when it happens: a
    # trade's context at its entry, the trade at its close) while tradelearn
    # is killed again and again
    pieces = 20
    for k in range(pieces):
        now = start + (end - start) * (k + 1) / pieces
        for name, rows in (("trades.jsonl", trades), ("context.jsonl", contexts)):
            (killed.logs / name).write_text("".join(l for t, l in rows if t <= now))
        w = killed.start_watch()
        time.sleep(rng.uniform(0.01, 0.2))
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=30)
        assert w.returncode == -signal.SIGKILL
    killed.run("watch", "--once")
    got = killed.outcomes()
    assert len(got) == truth["closes"]
    assert got == steady.outcomes()
    assert learned_state(killed) == learned_state(steady)
    status = json.loads(killed.run("status", "--json").stdout)
    assert status["context"]["matched"] == truth["closes"]


def keyed_outcomes(root, fills, why):
    """The outcomes of watch --once over fills.jsonl and why.jsonl, the
    trades F0, F1, F2 in that order."""
    (root.logs / "why.jsonl").write_text("".join(json.dumps(w) + "\n" for w in why))
    (root.logs / "fills.jsonl").write_text("".join(json.dumps(f) + "\n" for f in fills))
    root.run("watch", "--once")
    got = root.outcomes()
    assert [o["trade_id"] for o in got] == ["F0", "F1", "F2"]
    return got


def test_a_context_source_matched_by_key_attaches_its_fields_to_the_trade_of_that_key(root):
    config = {
        "profile": "keyed",
        "profiles": {"keyed": {
            "pnl_unit": "fraction",
            "sources": {
                "attribution": {"file": "fills.jsonl", "kind": "close", "key": ["/id"],
                                "fields": {"ts": "/ts", "symbol": "/sym", "pnl_usd": "/pnl",
                                           "side": "/side"}},
                "context": {"file": "why.jsonl", "kind": "context", "match": "key",
                            "key": ["/fill"],
                            "fields": {"ts": "/ts", "symbol": "/sym", "regime": "/regime",
                                       "components": "/f"}}}}}}
    (root.path / "tradelearn.json").write_text(json.dumps(config))
    root.profile = "keyed"
    fills = [{"ts": f"2026-02-05T15:00:0{i}Z", "id": f"F{i}", "sym": "ETHUSD", "side": "buy",
              "pnl": 1.0 - i} for i in range(3)]
    # the context rows come in another order, all dated after their fills
    why = [{"ts": "2026-02-05T15:10:00Z", "fill": f"F{i}", "sym": "ETHUSD",
            "regime": f"r{i}", "f": {"edge": i / 10}} for i in (2, 0, 1)]
    got = keyed_outcomes(root, fills, why)
    assert [o["regime"] for o in got] == ["r0", "r1", "r2"]
    assert [o["components"]["edge"] for o in got] == [0.0, 0.1, 0.2]


def test_a_context_source_matched_by_key_without_a_key_is_refused_naming_the_line(root):
    text = json.dumps({"profile": "p", "profiles": {"p": {"sources": {
        "attribution": {"file": "a.jsonl", "kind": "close", "key": ["/id"],
                        "fields": {"ts": "/ts", "symbol": "/s", "pnl_usd": "/p"}},
        "context": {"file": "c.jsonl", "kind": "context", "match": "key",
                    "fields": {"ts": "/ts", "symbol": "/s"}}}}}}, indent=1)
    (root.path / "tradelearn.json").write_text(text)
    p = root.run("status", check=False)
    assert p.returncode == 2 or p.returncode == 1
    assert "sources.context.key: is required with \"match\": \"key\"" in p.stderr
    assert "tradelearn.json:" in p.stderr


def close_to(a, b, tol=1e-12):
    """a and b equal, their numbers to tol."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close_to(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close_to(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= tol
    return a == b


def test_backfill_with_a_context_source_gives_the_outcomes_and_learned_state_of_watch(tmp_path):
    watched, truth = crypto_root(tmp_path / "watched", days=8)
    watched.run("watch", "--once")
    for jobs in ("1", "2"):
        filled = Root(tmp_path / f"filled-{jobs}", profile="crypto")
        shutil.copy(watched.path / "tradelearn.json", filled.path / "tradelearn.json")
        for name in ("trades.jsonl", "context.jsonl"):
            shutil.copy(watched.logs / name, filled.logs / name)
        filled.run("backfill", "--jobs", jobs, "--quiet")
        got = filled.outcomes()
        assert len(got) == truth["closes"]
        assert close_to(got, watched.outcomes()), jobs
        assert close_to(learned_state(filled), learned_state(watched)), jobs
        status = json.loads(filled.run("status", "--json").stdout)
        assert status["context"]["matched"] == truth["closes"]


def test_the_daily_report_breaks_trades_down_by_the_configs_sessions_and_moves_no_knob(tmp_path):
    r, truth = crypto_root(tmp_path / "root", days=8)
    r.run("watch", "--once")
    sessions = {s["name"] for s in json.loads(CONFIG.read_text())["sessions"]}
    seen = set()
    for day in range(5, 13):
        date = f"2026-01-{day:02d}"
        r.run("daily", "--date", date)
        report = json.loads((r.state / "reports" / f"post_market_{date}.json").read_text())
        by_session = report["breakdowns"]["time_of_day"]
        assert set(by_session) <= sessions | {"other"}, by_session.keys()
        seen |= set(by_session)
        # the trade file's strategy and venue, the context's regime
        assert report["breakdowns"]["strategy"] and report["breakdowns"]["venue"]
        assert report["breakdowns"]["regime"]
        # "knobs": [] in the profile: no knob to report, none moved
        assert report["knobs"] == {}
        knobs = json.loads((r.state / "knobs.json").read_text())
        assert knobs["values"] == {} and knobs["before"] == {}
    assert seen == sessions


def test_a_context_rows_mapped_categories_strategy_session_and_named_components_reach_its_trade(root):
    config = {
        "profile": "keyed",
        "profiles": {"keyed": {
            "knobs": [],
            "sources": {
                "attribution": {"file": "fills.jsonl", "kind": "close", "key": ["/id"],
                                "fields": {"ts": "/ts", "symbol": "/sym", "pnl_usd": "/pnl",
                                           "side": "/side", "categories": {"venue": "/venue"},
                                           "components": {"size": "/size"}}},
                "context": {"file": "why.jsonl", "kind": "context", "match": "key",
                            "key": ["/fill"],
                            "fields": {"ts": "/ts", "symbol": "/sym", "strategy": "/plan",
                                       "session": "/when",
                                       "side": {"pointer": "/dir", "equals": {"UP": "long"}},
                                       "categories": {"venue": "/venue", "desk": "/desk"},
                                       "components": {"edge": "/f/edge", "size": "/f/size"}}}}}}}
    (root.path / "tradelearn.json").write_text(json.dumps(config))
    root.profile = "keyed"
    fills = [{"ts": f"2026-02-05T15:00:0{i}Z", "id": f"F{i}", "sym": "ETHUSD",
              "pnl": 1.0 - i, "size": 5, "venue": "okx" if i else None} for i in range(3)]
    fills[2]["side"] = "sell"
    why = [{"ts": "2026-02-05T15:10:00Z", "fill": f"F{i}", "sym": "ETHUSD", "plan": f"s{i}",
            "when": "asia", "dir": "UP" if i < 2 else "DOWN", "venue": "binance",
            "desk": f"d{i}", "f": {"edge": i / 10, "size": 9}} for i in (2, 0, 1)]
    got = keyed_outcomes(root, fills, why)
    assert [o["strategy"] for o in got] == ["s0", "s1", "s2"]
    assert [o["time_of_day"] for o in got] == ["asia"] * 3
    # the trade's own values first: its venue where it has one, its side, its size
    assert [o["categories"]["venue"] for o in got] == ["binance", "okx", "okx"]
    assert [o["categories"]["desk"] for o in got] == ["d0", "d1", "d2"]
    assert [o["categories"]["strategy"] for o in got] == ["s0", "s1", "s2"]
    assert [o["side"] for o in got] == ["long", "long", "short"]
    assert [o["components"] for o in got] == [{"edge": i / 10, "size": 5} for i in range(3)]
    # the context row's value outside its map is counted as unmapped
    status = json.loads(root.run("status", "--json").stdout)
    assert status["sources"]["context"]["unmapped"] == {"side": 1}
    # the categories are learned as one-hot features
    weights = online(root)["categorical"]["weights"]
    assert {"desk=d0", "venue=binance", "strategy=s1"} <= set(weights)


def test_a_trade_waiting_for_its_context_edited_in_the_learned_state_is_refused_by_the_seal(tmp_path):
    r, truth = crypto_root(tmp_path / "root", days=2)
    (r.logs / "context.jsonl").rename(tmp_path / "context.jsonl")
    r.run("watch", "--once")
    st = r.state_json()
    assert len(st["learner_sha256"]) == 64
    gen_path = r.state / st["learner_file"]
    gen = json.loads(gen_path.read_text())
    assert len(gen["join"]["pending"]) == truth["closes"]
    # a waiting trade's P&L changed in place: the state file's seal covers it
    gen["join"]["pending"][0]["pnl_usd"] += 1000
    gen_path.write_text(json.dumps(gen, separators=(",", ":")))
    (tmp_path / "context.jsonl").rename(r.logs / "context.jsonl")
    p = r.run("watch", "--once", check=False)
    assert p.returncode == 1
    assert f"{st['learner_file']}: damaged: its SHA-256 is not the one the state file names" in p.stderr
    assert "backfill" in p.stderr
    assert r.outcomes() == []
    # status and verify fail where watch refuses
    for cmd in ("status", "verify"):
        p = r.run(cmd, check=False)
        assert p.returncode == 1, cmd
        assert "its SHA-256 is not the one the state file names" in p.stderr, cmd


def test_segments_by_a_category_of_the_profile_keep_one_model_per_venue_and_score_picks_it(tmp_path):
    r, truth = crypto_root(tmp_path / "root", days=10, config=config_with(segment_by="venue",
                                                                          segment_min_trades=5))
    r.run("watch", "--once")
    got = r.outcomes()
    venues = {}
    for o in got:
        v = (o.get("categories") or {}).get("venue") or "none"
        venues[v] = venues.get(v, 0) + 1
    assert len(venues) >= 2 and "none" not in venues, venues
    model = online(r)
    assert model["segments"]["by"] == "venue"
    assert {v: m["trades_learned"] for v, m in model["segments"]["models"].items()} == venues
    # score and the README's scorer take the candidate's venue's model
    score = readme_scorer()["score"]
    lines = [json.dumps({"symbol": "BTCUSDT", "side": "long", "timeframe": "5m", "venue": v,
                         "components": {"trend": 1.0}}) for v in sorted(venues)]
    p = subprocess.run([BIN, "--root", str(r.path), "score"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, check=True)
    probs = [float(x) for x in p.stdout.split()]
    assert len(set(probs)) == len(probs)  # a model each
    for line, prob in zip(lines, probs):
        assert abs(score(model, json.loads(line)) - prob) < 1e-12


def test_segment_by_a_field_the_profile_does_not_have_is_refused_with_its_line(tmp_path):
    r = Root(tmp_path / "root", profile="crypto")
    text = json.dumps(config_with(segment_by="venu"), indent=1)
    (r.path / "tradelearn.json").write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if '"segment_by"' in l)
    p = r.run("watch", "--once", check=False)
    assert p.returncode != 0
    assert f"tradelearn.json:{line}: learner.segment_by:" in p.stderr, p.stderr
    assert '"venu" is not a categorical field of profile crypto' in p.stderr
    assert "venue" in p.stderr  # the categories it has are named


def test_the_retrains_batch_model_learns_the_profiles_categories_and_its_online_replay_keeps_the_venue_segments(tmp_path):
    from modeltools import bundle_members, bundle_of, retrain
    r, _ = crypto_root(tmp_path / "root", days=20, config=config_with(segment_by="venue",
                                                                        segment_min_trades=5))
    r.run("watch", "--once")
    event = retrain(r, "--force")
    members = bundle_members(bundle_of(r, event["version"]))
    model = json.loads(members["model.json"])
    fields = model["categorical"]["fields"]
    assert "venue" in fields and "strategy" in fields, fields
    venues = {(o.get("categories") or {}).get("venue") for o in r.outcomes()}
    weights = model["categorical"]["weights"]
    assert {f"venue={v}" for v in venues} <= set(weights), sorted(weights)
    assert any(abs(weights[f"venue={v}"]) > 1e-9 for v in venues)
    # the README's scorer reads a candidate's venue with this model
    score = readme_scorer()["score"]
    base = {"symbol": "BTCUSDT", "side": "long", "timeframe": "5m", "components": {"trend": 1.0}}
    probs = {v: score(model, dict(base, venue=v)) for v in venues}
    assert len(set(probs.values())) == len(probs)
