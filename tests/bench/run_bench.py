#!/usr/bin/env python3
"""tradelearn benchmarks: every figure beside its target (PASS or MISS) and
the command that reproduces it. Asserts nothing; speed is never a test.

    run_bench.py [options] [BIN]

  1. history   backfill --jobs 1 and --jobs 2 over a simulated stock-bot
               history rotated and gzipped as logrotate leaves it (dateext,
               compress, delaycompress), and watch --once over the same
               history as live files: MB/s, records/s, peak RSS
  2. floor     tests/bench/parse_floor (jansson alone) on the same lines,
               1 and 2 threads, and tradelearn as a fraction of it
  3. others    tests/bench/reference_learner.py (json.loads and a per-trade
               logistic learner) and jq (the closes' P&L summed) on the
               same lines, and tradelearn as a multiple of each
  4. latency   append -> committed outcome (fsync'd, state renamed) at a
               steady rate, beside tail -F reading the same appends
  5. idle      CPU seconds per hour and RSS of watch on a quiet bot
  6. jobs      daily over a year of outcomes; retrain over 500,000 outcomes

Sizes come from the options, so `--smoke` runs every benchmark on tiny
inputs (tests/integration/test_bench_smoke.py does, in make check).

Each figure is one line:  NAME | VALUE | target TARGET | RESULT | $ COMMAND
where RESULT is PASS, MISS or "-" (a figure given for context, no target).
Commands name the work folder as $W (printed first; kept with --keep).
"""
import argparse
import ctypes
import datetime
import gzip
import hashlib
import json
import math
import os
import pathlib
import random
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE = REPO.parent / "shared/fixtures/stock-bot-2026-02-10"
MB_PER_DAY = 0.57  # stock-bot simulated history, all four files, per trading day

# The figures, in the order printed (the smoke test checks every one).
FIGURES = [
    "backfill --jobs 1",
    "backfill --jobs 2",
    "watch --once catch-up",
    "backfill, every day reported",
    "parse floor, 1 thread",
    "parse floor, 2 threads",
    "backfill --jobs 2 / 2-thread floor",
    "catch-up / 2-thread floor",
    "python reference learner",
    "backfill --jobs 2 / python",
    "jq, closes' P&L summed",
    "backfill --jobs 2 / jq",
    "live latency, append -> commit",
    "live latency, tail -F floor",
    "idle watch, CPU",
    "idle watch, RSS",
    "daily over a year",
    "retrain over 500,000 outcomes",
]

results = []


def sealed_state(doc):
    """The text of a state file holding doc, sealed as the README's "What it
    writes" describes: the SHA-256 of the bytes with its 64 digits as zeros."""
    doc = {k: v for k, v in doc.items() if k != "checksum"}
    doc["checksum"] = "sha256:" + "0" * 64
    text = json.dumps(doc, indent=2) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return text.replace('"sha256:' + "0" * 64, '"sha256:' + digest)


def figure(name, value, target, result, command):
    """Prints one figure line and keeps it for the summary."""
    assert name in FIGURES, name
    line = f"{name} | {value} | target {target} | {result} | $ {command}"
    results.append(line)
    print(line, flush=True)


def verdict(ok):
    return "PASS" if ok else "MISS"


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = str(pathlib.Path(args.bin).resolve())
        self.work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="tradelearn-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.floor = args.floor or str(pathlib.Path(self.bin).parent / "tests/bench/parse_floor")
        if not os.access(self.floor, os.X_OK):
            self.floor = str(REPO / ".build/plain/tests/bench/parse_floor")

    def shown(self, argv):
        """A command as printed: the binary as `tradelearn`, the work
        folder as $W."""
        out = []
        for a in map(str, argv):
            a = a.replace(self.bin, "tradelearn").replace(str(self.work), "$W")
            a = "python3" if a == sys.executable else a
            a = a.replace(str(REPO) + "/", "")
            out.append(a if re.fullmatch(r"[\w$./=:,+@-]+", a) else "'" + a + "'")
        return " ".join(out)

    def tl(self, *args):
        return [self.bin, *map(str, args)]

    def run(self, argv, **kw):
        return subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, **kw)

    def timed(self, argv, stdout=subprocess.DEVNULL):
        """Wall seconds, CPU seconds and peak RSS (MiB) of one process."""
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{self.shown(argv)} failed: {err.decode()[-2000:]}")
        return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024

    # ---- the history ---------------------------------------------------

    def simulate(self, root, days, seed=1):
        """days trading days of stock-bot history ending before today (so
        every day is past for backfill and daily), as live files."""
        start = datetime.date.today() - datetime.timedelta(days=int(days * 7 / 5) + 14)
        while start.weekday() >= 5:
            start += datetime.timedelta(days=1)
        (root / "logs").mkdir(parents=True, exist_ok=True)
        self.run(self.tl("--root", root, "simulate", "--profile", "stock-bot", "--days", days,
                         "--seed", seed, "--start", start.isoformat()))

    @staticmethod
    def line_day(line, current):
        m = re.search(rb'"(?:ts|timestamp)": ?"(\d{4})-(\d\d)-(\d\d)', line[:100])
        day = b"".join(m.groups()).decode() if m else current
        # A line logged late (or without a time) stays in the file of the
        # day being written, as logrotate's daily cut leaves it.
        return day if current is None or (day and day > current) else current

    def last_day(self, live):
        """The day of the last line of a live file, YYYY-MM-DD."""
        last = None
        with open(live, "rb") as f:
            for line in f:
                last = self.line_day(line, last)
        return f"{last[:4]}-{last[4:6]}-{last[6:]}"

    def rotate(self, plain_logs, rotated_logs):
        """The live files cut into one file per day as logrotate leaves
        them with dateext, compress and delaycompress: NAME (today),
        NAME-YYYYMMDD (yesterday), NAME-YYYYMMDD.gz (the days before)."""
        rotated_logs.mkdir(parents=True, exist_ok=True)
        to_gzip = []
        for src in sorted(plain_logs.glob("*.jsonl")):
            days, out, current = [], None, None
            with open(src, "rb") as f:
                for line in f:
                    day = self.line_day(line, current)
                    if day != current:
                        if out:
                            out.close()
                        current = day
                        days.append(rotated_logs / f"{src.name}-{day}")
                        out = open(days[-1], "wb")
                    out.write(line)
            if out:
                out.close()
            if days:
                os.replace(days[-1], rotated_logs / src.name)
                to_gzip += [str(p) for p in days[:-2]]
        # gzip -6, as logrotate's compress runs it, on both cores.
        if to_gzip:
            subprocess.run(["xargs", "-0", "-P2", "-n64", "gzip", "-6"], check=True,
                           input="\0".join(to_gzip).encode())

    def history(self):
        days = max(2, math.ceil(self.args.history_mb / MB_PER_DAY))
        h = self.work / "history"
        plain, rotated = h / "plain", h / "rotated"
        if not (plain / "logs/attribution.jsonl").exists():
            print(f"making {days} trading days of stock-bot history...", flush=True)
            self.simulate(plain, days)
            shutil.rmtree(rotated, ignore_errors=True)
        if not (rotated / "logs/attribution.jsonl").exists():
            self.rotate(plain / "logs", rotated / "logs")
        files = sorted(str(p) for p in (plain / "logs").glob("*.jsonl"))
        size = sum(os.path.getsize(p) for p in files)
        lines = 0
        for p in files:
            with open(p, "rb") as f:
                lines += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        last = self.last_day(plain / "logs/attribution.jsonl")
        on_disk = sum(p.stat().st_size for p in (rotated / "logs").iterdir())
        n_files = len(list((rotated / "logs").iterdir()))
        print(f"history: {days} trading days to {last}, {lines:,} lines, {size / 1e6:,.1f} MB "
              f"({n_files} files rotated, {on_disk / 1e6:,.1f} MB on disk)", flush=True)
        return {"plain": plain, "rotated": rotated, "files": files, "size": size,
                "lines": lines, "last": last, "days": days}

    @staticmethod
    def fresh(root):
        for d in ("state", "models", "state.backfill"):
            shutil.rmtree(root / d, ignore_errors=True)

    def throughput(self, name, argv, root, h, note=""):
        self.fresh(root)
        wall, cpu, rss = self.timed(argv)
        mbs = h["size"] / 1e6 / wall
        value = (f"{mbs:,.1f} MB/s, {h['lines'] / wall:,.0f} records/s ({h['size'] / 1e6:,.0f} MB "
                 f"in {wall:.2f} s, {cpu:.2f} s cpu), peak RSS {rss:.1f} MiB{note}")
        figure(name, value, "peak RSS <= 64 MiB", verdict(rss <= 64), self.shown(argv))
        return mbs

    def section_history(self, h):
        rot, plain, last = h["rotated"], h["plain"], h["last"]
        speed = {}
        for jobs in (1, 2):
            argv = self.tl("--root", rot, "--profile", "stock-bot", "backfill", "--since", last,
                           "--jobs", jobs, "--quiet")
            speed[jobs] = self.throughput(f"backfill --jobs {jobs}", argv, rot, h,
                                          f"; the last day reported (--since {last})")
        argv = self.tl("--root", plain, "--profile", "stock-bot", "watch", "--once")
        speed["watch"] = self.throughput("watch --once catch-up", argv, plain, h,
                                         "; all of history as the live files")
        # Every past day reported, as a backfill without --since does: on
        # a part of the history (each day's report reads that day's lines
        # and all the outcomes before it again).
        part = self.work / "history/reported"
        days = min(h["days"], self.args.reported_days)
        if not (part / "logs/attribution.jsonl").exists():
            shutil.rmtree(part, ignore_errors=True)
            self.simulate(part / "plain", days, seed=2)
            self.rotate(part / "plain/logs", part / "logs")
            shutil.rmtree(part / "plain")
        size = sum(p.stat().st_size for p in (part / "logs").iterdir())
        raw = sum(len(gzip.open(p).read()) if p.name.endswith(".gz") else p.stat().st_size
                  for p in (part / "logs").iterdir())
        self.fresh(part)
        argv = self.tl("--root", part, "--profile", "stock-bot", "backfill", "--jobs", 2,
                       "--quiet")
        wall, cpu, rss = self.timed(argv)
        figure("backfill, every day reported",
               f"{raw / 1e6 / wall:,.1f} MB/s ({days} days, {raw / 1e6:,.0f} MB, {size / 1e6:,.1f} MB "
               f"on disk, in {wall:.2f} s), peak RSS {rss:.1f} MiB", "peak RSS <= 64 MiB",
               verdict(rss <= 64), self.shown(argv))
        return speed

    # ---- the floor and the others --------------------------------------

    def section_floor(self, h, speed):
        floor = {}
        for threads in (1, 2):
            argv = [self.floor, "--threads", threads, *h["files"]]
            out = self.run(list(map(str, argv))).stdout
            r = json.loads(out)
            floor[threads] = r["mb_per_s"]
            figure(f"parse floor, {threads} thread{'s' if threads > 1 else ''}",
                   f"{r['mb_per_s']:,.1f} MB/s, {r['lines_per_s']:,.0f} records/s "
                   f"(jansson alone, {r['seconds']:.2f} s)", "-", "-",
                   self.shown(argv[:3]) + " $W/history/plain/logs/*.jsonl")
        share = speed[2] / floor[2]
        figure("backfill --jobs 2 / 2-thread floor", f"{share:.0%}", ">= 85%", verdict(share >= 0.85),
               "(the two lines above)")
        share = speed["watch"] / floor[2]
        figure("catch-up / 2-thread floor", f"{share:.0%}", "-", "-", "(the lines above)")

    def section_others(self, h, speed):
        argv = [sys.executable, str(HERE / "reference_learner.py"), *h["files"]]
        wall, _, _ = self.timed(argv)
        py = h["size"] / 1e6 / wall
        figure("python reference learner", f"{py:,.1f} MB/s ({wall:.2f} s)", "-", "-",
               self.shown(argv[:2]) + " $W/history/plain/logs/*.jsonl")
        figure("backfill --jobs 2 / python", f"{speed[2] / py:.2f}x", "-", "-",
               "(the lines above)")
        jq = shutil.which("jq")
        program = ('reduce (inputs | fromjson? | select((.trade_id? | type) == "string" and '
                   '(.trade_id | startswith("close_"))) | (.pnl_usd // 0)) as $p (0; . + $p)')
        if not jq:
            figure("jq, closes' P&L summed", "not run: jq is not installed (make deps)", "-", "-",
                   "jq")
            figure("backfill --jobs 2 / jq", "not run", ">= 1.5x", "MISS", "-")
            return
        argv = [jq, "-nR", program, *h["files"]]
        wall, _, _ = self.timed(argv)
        rate = h["size"] / 1e6 / wall
        figure("jq, closes' P&L summed", f"{rate:,.1f} MB/s ({wall:.2f} s)", "-", "-",
               self.shown(["jq", "-nR", program]) + " $W/history/plain/logs/*.jsonl")
        figure("backfill --jobs 2 / jq", f"{speed[2] / rate:.2f}x", ">= 1.5x",
               verdict(speed[2] / rate >= 1.5), "(the lines above)")

    # ---- live latency --------------------------------------------------

    def section_latency(self):
        n, rate = self.args.appends, self.args.rate
        root = self.work / "latency"
        shutil.rmtree(root, ignore_errors=True)
        logs, state = root / "logs", root / "state"
        logs.mkdir(parents=True)
        att = logs / "attribution.jsonl"
        att.write_text("")
        argv = self.tl("--root", root, "watch")
        w = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        tail = subprocess.Popen(["tail", "-F", "-n", "0", str(att)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        try:
            while not (state / "health.json").exists():
                time.sleep(0.01)
            time.sleep(0.3)
            seen = [None] * n

            def read_tail():
                for i in range(n):
                    if not tail.stdout.readline():
                        return
                    seen[i] = time.perf_counter()

            reader = threading.Thread(target=read_tail, daemon=True)
            reader.start()
            commits, sent = inotify_commits(state, "learning_processing_state.json", n,
                                            lambda i: append_close(att, i), rate)
            reader.join(5)
        finally:
            w.terminate()
            tail.terminate()
            w.wait()
            tail.wait()
        lat = sorted((c - s) * 1000 for c, s in zip(commits, sent) if c is not None)
        tail_lat = sorted((t - s) * 1000 for t, s in zip(seen, sent) if t is not None)
        if len(lat) < n:
            figure("live latency, append -> commit", f"{n - len(lat)} of {n} appends never committed",
                   "p99 <= 5 ms", "MISS", self.shown(argv))
        else:
            p = quantiles(lat)
            figure("live latency, append -> commit",
                   f"p50 {p[0]:.2f} ms, p90 {p[1]:.2f} ms, p99 {p[2]:.2f} ms, max {lat[-1]:.2f} ms "
                   f"({n} appends at {rate}/s)", "p99 <= 5 ms", verdict(p[2] <= 5), self.shown(argv))
        p = quantiles(tail_lat) if tail_lat else (math.nan,) * 3
        figure("live latency, tail -F floor",
               f"p50 {p[0]:.2f} ms, p90 {p[1]:.2f} ms, p99 {p[2]:.2f} ms ({len(tail_lat)} of {n} "
               "lines)", "-", "-", f"tail -F -n 0 $W/latency/logs/attribution.jsonl")

    # ---- idle ----------------------------------------------------------

    def section_idle(self):
        secs = self.args.idle_seconds
        root = self.work / "idle"
        shutil.rmtree(root, ignore_errors=True)
        self.simulate(root, 2)
        argv = self.tl("--root", root, "--profile", "stock-bot", "watch")
        w = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        try:
            # Caught up and quiet: the learned files no longer change.
            health = root / "state/health.json"
            while not health.exists():
                time.sleep(0.05)
            time.sleep(min(5.0, max(1.0, secs / 10)))
            cpu0 = cpu_ns(w.pid)
            time.sleep(secs)
            cpu1 = cpu_ns(w.pid)
            rss = rss_kib(w.pid) / 1024
        finally:
            w.terminate()
            w.wait()
        per_hour = (cpu1 - cpu0) / 1e9 / secs * 3600
        how = f"over {secs:g} s" + ("" if secs >= 600 else " (--long: 10 minutes)")
        figure("idle watch, CPU", f"{per_hour:.4f} CPU-s per hour {how}", "<= 0.1 CPU-s/h",
               verdict(per_hour <= 0.1), self.shown(argv))
        figure("idle watch, RSS", f"{rss:.1f} MiB after {secs:g} s", "<= 8 MiB", verdict(rss <= 8),
               self.shown(argv))

    # ---- jobs ----------------------------------------------------------

    def section_jobs(self):
        days = self.args.year_days
        root = self.work / "year"
        if not (root / "state/learning_processing_state.json").exists():
            shutil.rmtree(root, ignore_errors=True)
            self.simulate(root / "plain", days, seed=3)
            self.rotate(root / "plain/logs", root / "logs")
            shutil.rmtree(root / "plain")
            # The state of a year: every outcome committed, no day reported
            # (--since the day after the last).
            last = datetime.date.fromisoformat(self.last_day(root / "logs/attribution.jsonl"))
            since = (last + datetime.timedelta(days=1)).isoformat()
            self.run(self.tl("--root", root, "--profile", "stock-bot", "backfill", "--since",
                             since, "--quiet"))
        st = json.loads((root / "state/learning_processing_state.json").read_text())
        trades = st.get("total_trades_processed")
        date = self.last_day(root / "logs/attribution.jsonl")
        argv = self.tl("--root", root, "--profile", "stock-bot", "daily", "--date", date)
        wall, cpu, rss = self.timed(argv)
        figure("daily over a year",
               f"{wall:.2f} s ({days} trading days, {trades:,} trades; {cpu:.2f} s cpu, peak RSS "
               f"{rss:.1f} MiB)", "<= 1 s", verdict(wall <= 1), self.shown(argv))
        self.retrain()

    def retrain(self):
        n = self.args.retrain_outcomes
        name = "retrain over 500,000 outcomes"
        probe = subprocess.run(self.tl("retrain", "--help"), capture_output=True)
        if probe.returncode != 0:
            figure(name, "not available in this build (no retrain command)", "<= 10 s", "-",
                   "tradelearn retrain --force")
            return
        root = self.work / "retrain"
        shutil.rmtree(root, ignore_errors=True)
        (root / "logs").mkdir(parents=True)
        self.run(self.tl("--root", root, "simulate", "--days", 2, "--seed", 1))
        self.run(self.tl("--root", root, "watch", "--once"))
        path = root / "state/outcomes/trade_outcomes.jsonl.zst"
        # One zstd frame per 4096 outcomes, as commits write them.
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
        state.write_text(sealed_state(st))
        argv = self.tl("--root", root, "retrain", "--force")
        wall, cpu, rss = self.timed(argv)
        figure(name,
               f"{wall:.2f} s ({n:,} outcomes, {path.stat().st_size / 1e6:.1f} MB compressed; "
               f"{cpu:.2f} s cpu, peak RSS {rss:.1f} MiB)", "<= 10 s", verdict(wall <= 10),
               self.shown(argv))

    def fixture(self):
        """The real stock-bot logs, when the shared fixtures are there
        (context, not a figure)."""
        if not (FIXTURE / "attribution.jsonl.gz").exists():
            return
        root = self.work / "fixture"
        shutil.rmtree(root, ignore_errors=True)
        (root / "logs").mkdir(parents=True)
        for src in FIXTURE.glob("*.jsonl.gz"):
            shutil.copy(src, root / "logs" / src.name)
        argv = self.tl("--root", root, "--profile", "stock-bot", "backfill", "--quiet")
        wall, cpu, rss = self.timed(argv)
        print(f"(the stock-bot fixture's gzipped logs: backfill {wall:.2f} s, peak RSS {rss:.1f} MiB)")


def quantiles(v):
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    return statistics.median(v), q(0.9), q(0.99)


def append_close(path, i):
    row = {"ts": f"2026-02-05T{14 + i // 3600 % 6:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
           "event": "close", "trade_id": f"L{i}", "symbol": "AAPL", "side": "long",
           "pnl_usd": 1.0 if i % 3 else -1.0}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


IN_MOVED_TO = 0x80


def inotify_commits(folder, name, n, append, rate):
    """Appends n lines at a steady rate; for each, the time it was written
    and the time the state file naming it was renamed into place (the
    commit point), seen through inotify rather than by polling."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, str(folder).encode(), IN_MOVED_TO) < 0:
        raise SystemExit("inotify is not available")
    state = folder / name
    sent, commits = [None] * n, [None] * n
    start = time.perf_counter()
    try:
        for i in range(n):
            wait = start + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent[i] = time.perf_counter()
            append(i)
            deadline = sent[i] + 2.0
            while commits[i] is None and time.perf_counter() < deadline:
                ready, _, _ = select.select([fd], [], [], max(0, deadline - time.perf_counter()))
                if not ready:
                    continue
                at = time.perf_counter()
                buf = os.read(fd, 65536)
                named = False
                k = 0
                while k + 16 <= len(buf):
                    _, _, _, ln = struct.unpack_from("iIII", buf, k)
                    named |= buf[k + 16:k + 16 + ln].rstrip(b"\0") == name.encode()
                    k += 16 + ln
                if not named:
                    continue
                try:
                    if json.loads(state.read_text()).get("total_trades_processed", 0) >= i + 1:
                        commits[i] = at
                except (OSError, ValueError):
                    pass
    finally:
        os.close(fd)
    return commits, sent


def cpu_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat: finer than the
    clock ticks of /proc/PID/stat)."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


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


def options(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin", nargs="?", default=str(REPO / ".build/tradelearn"))
    ap.add_argument("--floor", help="the parse_floor program (default: beside the binary's build)")
    ap.add_argument("--smoke", action="store_true",
                    help="every benchmark on tiny inputs (make check runs it)")
    ap.add_argument("--long", action="store_true", help="idle for 10 minutes instead of 2")
    ap.add_argument("--history-mb", type=float, default=1024,
                    help="size of the simulated history (default 1024 MB)")
    ap.add_argument("--reported-days", type=int, default=60,
                    help="days of the history backfilled with every day reported (default 60)")
    ap.add_argument("--appends", type=int, default=1000, help="live appends (default 1000)")
    ap.add_argument("--rate", type=float, default=50, help="live appends per second (default 50)")
    ap.add_argument("--idle-seconds", type=float, help="idle measurement (default 120, --long 600)")
    ap.add_argument("--year-days", type=int, default=252, help="trading days for daily (default 252)")
    ap.add_argument("--retrain-outcomes", type=int, default=500000)
    ap.add_argument("--keep", help="work in this folder and keep it (it is reused when run again)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.history_mb, args.reported_days, args.appends, args.year_days = 1.5, 3, 20, 3
        args.retrain_outcomes = 3000
        args.idle_seconds = args.idle_seconds or 2
    args.idle_seconds = args.idle_seconds or (600 if args.long else 120)
    return args


def main(argv):
    args = options(argv)
    b = Bench(args)
    uname = os.uname()
    print(f"tradelearn benchmarks, {datetime.datetime.now().isoformat(timespec='seconds')}: "
          f"{os.cpu_count()} cores, {uname.sysname} {uname.release} {uname.machine}; "
          f"binary {b.bin}{' (smoke sizes)' if args.smoke else ''}")
    print(f"W={b.work}", flush=True)
    try:
        h = b.history()
        speed = b.section_history(h)
        b.section_floor(h, speed)
        b.section_others(h, speed)
        b.section_latency()
        b.section_idle()
        b.section_jobs()
        b.fixture()
    finally:
        if not args.keep:
            shutil.rmtree(b.work, ignore_errors=True)
    print("\nsummary:")
    for line in results:
        print("  " + line)
    misses = sum(1 for line in results if line.split(" | ")[3] == "MISS")
    print(f"{len(results)} figures, {misses} targets missed")


if __name__ == "__main__":
    main(sys.argv[1:])
