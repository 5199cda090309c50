#!/usr/bin/env python3
"""tradelearn benchmarks: prints figures, asserts nothing.

  throughput   watch --once over 60 simulated days (all four sources)
  latency      a close appended to a followed log -> its outcome committed
  fixture      the real stock-bot logs, when ../shared/fixtures is there
  retrain      a full retrain over 500,000 outcomes (targets: 10 s, 256 MiB)
  memory       peak RSS of each run
"""
import json
import math
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else str(pathlib.Path(__file__).resolve().parents[2] / "tradelearn")
FIXTURE = pathlib.Path(__file__).resolve().parents[3] / "shared/fixtures/stock-bot-2026-02-10"


def run(*args):
    subprocess.run([BIN, *map(str, args)], check=True, capture_output=True)


def timed(*args):
    """Wall and CPU seconds and peak RSS (KiB) of one tradelearn process."""
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN, *map(str, args)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{args} exited {p.returncode}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def logs_size(logs):
    lines = size = 0
    for f in pathlib.Path(logs).iterdir():
        if f.is_file():
            size += f.stat().st_size
            with open(f, "rb") as fh:
                lines += sum(1 for _ in fh)
    return lines, size


def throughput(tmp):
    root = pathlib.Path(tmp) / "tp"
    (root / "logs").mkdir(parents=True)
    run("--root", root, "simulate", "--days", 60, "--seed", 1)
    lines, size = logs_size(root / "logs")
    wall, cpu, rss = timed("--root", root, "watch", "--once")
    st = json.loads((root / "state/learning_processing_state.json").read_text())
    trades = st["total_trades_processed"]
    print(f"throughput: 60 simulated days, {lines} lines, {size / 1e6:.1f} MB, {trades} trades: "
          f"{wall:.2f} s wall, {cpu:.2f} s cpu -> {lines / wall:,.0f} lines/s, "
          f"{size / 1e6 / wall:.1f} MB/s; peak RSS {rss / 1024:.1f} MiB")
    # The daily job on the same root: the last simulated day, from all 60
    # days of outcomes and that day's records; a first run and a re-run.
    last = max(json.loads(line)["ts"][:10]
               for line in open(root / "logs/attribution.jsonl") if line.startswith("{") and
               line.rstrip().endswith("}"))
    first = timed("--root", root, "daily", "--date", last)
    again = timed("--root", root, "daily", "--date", last)
    print(f"daily: report for {last} over 60 days ({trades} trades): {first[0]:.2f} s wall, "
          f"peak RSS {first[2] / 1024:.1f} MiB; re-run {again[0]:.2f} s")


def latency(tmp, n=200):
    root = pathlib.Path(tmp) / "lat"
    logs = root / "logs"
    logs.mkdir(parents=True)
    att = logs / "attribution.jsonl"
    att.write_text("")
    state = root / "state/learning_processing_state.json"
    w = subprocess.Popen([BIN, "--root", str(root), "watch"], stderr=subprocess.DEVNULL)
    while not state.exists() and not (root / "state/health.json").exists():
        time.sleep(0.01)
    samples = []
    for i in range(n):
        row = {"ts": f"2026-02-05T16:{i // 60:02d}:{i % 60:02d}Z", "event": "close",
               "trade_id": f"L{i}", "symbol": "AAPL", "side": "long", "pnl_usd": 1.0}
        t0 = time.perf_counter()
        with open(att, "a") as f:
            f.write(json.dumps(row) + "\n")
        while True:
            try:
                st = json.loads(state.read_text())
                if st["total_trades_processed"] == i + 1:
                    break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass
            time.sleep(0.0005)
        samples.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.01)
    w.terminate()
    w.wait()
    samples.sort()
    q = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]
    print(f"latency: append a close -> outcome committed (fsync'd), {n} samples: "
          f"median {statistics.median(samples):.1f} ms, p90 {q(0.9):.1f} ms, p99 {q(0.99):.1f} ms, "
          f"max {samples[-1]:.1f} ms (includes 0.5 ms polling of the state file)")


def fixture(tmp):
    if not (FIXTURE / "attribution.jsonl.gz").exists():
        print(f"fixture: skipped ({FIXTURE} not found)")
        return
    import gzip
    root = pathlib.Path(tmp) / "fx"
    (root / "logs").mkdir(parents=True)
    for src, dst in (("attribution", "attribution"), ("exit_attribution", "exit_attribution"),
                     ("blocked_trades", "blocked_trades")):
        with gzip.open(FIXTURE / f"{src}.jsonl.gz", "rb") as s, open(root / f"logs/{dst}.jsonl", "wb") as d:
            shutil.copyfileobj(s, d)
    lines, size = logs_size(root / "logs")
    wall, cpu, rss = timed("--root", root, "--profile", "stock-bot", "watch", "--once")
    print(f"fixture: stock-bot 2026-02-05..10, {lines} lines, {size / 1e6:.1f} MB: {wall:.2f} s wall, "
          f"{lines / wall:,.0f} lines/s; peak RSS {rss / 1024:.1f} MiB")


def synthetic_outcomes(n, seed=1, days=59):
    """n outcome lines as the short-term job writes them, a planted signal
    in their components, exits spread over `days` days."""
    rng = random.Random(seed)
    weights = {"momentum": 0.9, "mean_reversion": -0.6, "volume_surge": 0.5, "news_sentiment": 0.3,
               "order_flow": 0.7, "volatility": 0.0, "noise_a": 0.0, "noise_b": 0.0}
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "JPM", "XOM", "SPY", "META", "GOOG"]
    start = 1767623400.0  # 2026-01-05T14:30:00Z
    step = days * 86400.0 / n
    for i in range(n):
        comps = {k: round(rng.gauss(0, 1), 4) for k in weights}
        eta = -0.1 + sum(w * comps[k] for k, w in weights.items())
        win = rng.random() < 1 / (1 + math.exp(-eta))
        frac = round(rng.uniform(0.001, 0.01) * (1 if win else -1), 6)
        exit_at = start + i * step
        entry = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(exit_at - 600))
        exit_ = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(exit_at))
        sym = symbols[i % len(symbols)]
        yield json.dumps({
            "trade_id": f"B{i:07d}", "symbol": sym, "side": rng.choice(["long", "short"]),
            "entry_ts": entry, "exit_ts": exit_, "entry_price": 100.0, "exit_price": 100.0 * (1 + frac),
            "qty": 10.0, "pnl_usd": round(1000 * frac, 2), "pnl_frac": frac, "hold_minutes": 10.0,
            "confidence": round(rng.uniform(0.4, 0.9), 4), "score": round(rng.gauss(5, 1), 4),
            "regime": rng.choice(["trend_up", "trend_down", "range"]), "sector": "tech",
            "timeframe": rng.choice(["5m", "15m"]), "time_of_day": "open",
            "day_of_week": "monday", "close_reason": "take_profit" if win else "stop_loss",
            "partial": 1.0, "components": comps}, separators=(",", ":"))


def retrain(tmp, n=500000):
    """A root whose committed outcomes are n synthetic ones (one zstd frame
    per 4096, as commits write them), then tradelearn retrain --force."""
    root = pathlib.Path(tmp) / "rt"
    (root / "logs").mkdir(parents=True)
    run("--root", root, "simulate", "--days", 2, "--seed", 1)
    run("--root", root, "watch", "--once")
    path = root / "state/outcomes/trade_outcomes.jsonl.zst"
    # Written a frame at a time: this process stays small, so the peak RSS
    # measured (which a child inherits from before its exec) is tradelearn's.
    lines = synthetic_outcomes(n)
    with open(path, "wb") as out:
        for k in range(0, n, 4096):
            chunk = [next(lines) for _ in range(min(4096, n - k))]
            text = ("\n".join(chunk) + "\n").encode()
            out.write(subprocess.run(["zstd", "-q", "-c"], input=text, capture_output=True,
                                     check=True).stdout)
    state = root / "state/learning_processing_state.json"
    st = json.loads(state.read_text())
    st["outputs"]["outcomes/trade_outcomes.jsonl.zst"]["length"] = path.stat().st_size
    state.write_text(json.dumps(st))
    wall, cpu, rss = timed("--root", root, "retrain", "--force")
    mib = rss / 1024
    print(f"retrain: {n:,} outcomes ({path.stat().st_size / 1e6:.1f} MB compressed), batch fit, "
          f"online replay, 3 candidates, gate, bundle: {wall:.2f} s wall, {cpu:.2f} s cpu "
          f"(target <= 10 s: {'PASS' if wall <= 10 else 'MISS'}); peak RSS {mib:.1f} MiB "
          f"(target <= 256 MiB: {'PASS' if mib <= 256 else 'MISS'})")


def main():
    print(f"machine: {os.cpu_count()} cores; binary {BIN}")
    with tempfile.TemporaryDirectory() as tmp:
        throughput(tmp)
        fixture(tmp)
        latency(tmp)
        retrain(tmp)


if __name__ == "__main__":
    main()
