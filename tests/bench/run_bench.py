#!/usr/bin/env python3
"""tradelearn benchmarks: prints figures, asserts nothing.

  throughput   watch --once over 60 simulated days (all four sources)
  latency      a close appended to a followed log -> its outcome committed
  fixture      the real stock-bot logs, when ../shared/fixtures is there
  memory       peak RSS of each run
"""
import json
import os
import pathlib
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


def main():
    print(f"machine: {os.cpu_count()} cores; binary {BIN}")
    with tempfile.TemporaryDirectory() as tmp:
        throughput(tmp)
        fixture(tmp)
        latency(tmp)


if __name__ == "__main__":
    main()
