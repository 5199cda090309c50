"""The real stock-bot logs (../shared/fixtures), read with the stock-bot profile."""
import gzip
import shutil

import pytest

from conftest import FIXTURE, Root

pytestmark = pytest.mark.skipif(
    not (FIXTURE / "attribution.jsonl.gz").exists(),
    reason=f"stock-bot fixture not found at {FIXTURE} (it ships beside the project, not in it)")


def unzip(name, dest):
    with gzip.open(FIXTURE / name, "rb") as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst)


@pytest.fixture
def bot(tmp_path):
    r = Root(tmp_path / "root", profile="stock-bot")
    unzip("attribution.jsonl.gz", r.logs / "attribution.jsonl")
    unzip("exit_attribution.jsonl.gz", r.logs / "exit_attribution.jsonl")
    unzip("blocked_trades.jsonl.gz", r.logs / "blocked_trades.jsonl")
    yield r
    r.cleanup()


def test_stock_bot_fixture_records_976_closes_and_17_partials(bot):
    bot.run("watch", "--once")
    out = bot.outcomes()
    closes = [o for o in out if o["trade_id"].startswith("close_")]
    partials = [o for o in out if o["trade_id"].startswith("scale_")]
    assert len(closes) == 976
    assert len(partials) == 17
    assert sum(o["pnl_usd"] > 0 for o in closes) == 395
    assert round(sum(o["pnl_usd"] for o in closes), 2) == -111.98
    assert round(sum(o["pnl_usd"] for o in partials), 2) == 68.48
    # Percent in the logs, fractions in the outcomes; opens are not trades.
    first = next(o for o in closes if o["trade_id"].startswith("close_BA_2026-02-05T14:36"))
    assert first["pnl_frac"] == pytest.approx(-0.000978)
    assert first["close_reason"] == "signal_decay"
    assert all(o["partial"] == 1 for o in closes)
    assert all(0 < o["partial"] < 1 for o in partials)
    src = bot.source()
    assert src["records_read"] == 2065
    assert src["trades_recorded"] == 993
    assert src["records_quarantined"] == 0
    assert bot.run("verify", check=False).returncode == 0


def test_stock_bot_fixture_rerun_learns_nothing_new(bot):
    bot.run("watch", "--once")
    before = bot.outcomes()
    bot.run("watch", "--once")
    assert bot.outcomes() == before
    # A bot that replays its log (the same rows appended again): the stable
    # trade keys keep every trade recorded once.
    with open(bot.logs / "attribution.jsonl", "ab") as f, \
            gzip.open(FIXTURE / "attribution.jsonl.gz", "rb") as src:
        shutil.copyfileobj(src, f)
    bot.run("watch", "--once")
    assert len(bot.outcomes()) == len(before)
    assert bot.source()["skipped_by_reason"]["duplicate"] == 993
