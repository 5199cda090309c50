#!/usr/bin/env python3
"""Torture: the real tradelearn binary in temporary roots, against a model.

Parts (each bounded in time and in count, each printing what it did and
what it found):

  ops      random sequences of file operations on a bot's log (whole,
           partial, long and malformed lines, rename rotations,
           copytruncate, delete and recreate, gzip/zstd of rotated files,
           pauses, restarts, kill -9) checked against a model of what must
           be learned: every appended close exactly once; with copytruncate,
           the lines written between the copy and the truncation (the
           README's window) at most once; nothing else, nothing twice
  kill     kill -9 at random instants during live watching, backfill, daily
           and retrain; after each kill `verify` passes, and in the end the
           outputs equal those of an uninterrupted run
  diskfull state and models on a small tmpfs that fills up during watch,
           daily, retrain and backfill: reported, nothing half-written, the
           previous state readable, nothing lost once space returns, and an
           idle daemon on a full disk says so once
  damage   every file under state/ and models/ truncated, emptied, garbage,
           JSON of the wrong shape, one field edited, a stray temporary
           file, a torn last frame, and every key of the state file
           removed, retyped and edited: a start either gives what an
           undamaged start gives, or says what it did (recovered from the
           previous generation), or refuses saying what to do; never a cut
           of committed data, never a silent change

Around all of them: nothing is written outside the roots (the processes run
with an empty working folder, HOME and TMPDIR that are snapshotted before and
after, and the logs folders must hold only what the bot wrote).

Every iteration has its own seed; a failure prints it, and
`--seed S --part P` replays that iteration alone. Ends with `failures: N`,
exit 1 when N > 0.
"""
import argparse
import gzip
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PARTS = ("ops", "kill", "diskfull", "damage")
MAX_LINE = 2048
STATE_FILE = "learning_processing_state.json"
OUTCOMES = "outcomes/trade_outcomes.jsonl.zst"
ADVICE = ("restore", "remove", "delete", "backup", "backfill", "start over", "rebuild", "free ",
          "stop ", "run ")

# Budgets: (seconds, iterations) per part.
SHORT = {"ops": (14, 4), "kill": (18, 1), "diskfull": (14, 1), "damage": (14, 14)}
LONG = {"ops": (1800, 3000), "kill": (1500, 2), "diskfull": (300, 10), "damage": (900, 5000)}
KILLS_SHORT = {"live": 8, "backfill": 4, "daily": 4, "retrain": 4}
KILLS_LONG = {"live": 260, "backfill": 100, "daily": 80, "retrain": 80}


class Failed(Exception):
    pass


class Env:
    """The binary, the work folder, and what every child process gets."""

    def __init__(self, binary, work):
        self.bin = binary
        self.work = pathlib.Path(work)
        self.cwd = self.work / "cwd"
        self.home = self.work / "home"
        self.tmp = self.work / "tmp"
        for d in (self.cwd, self.home, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self.environ = dict(os.environ, HOME=str(self.home), TMPDIR=str(self.tmp), TZ="UTC")
        self.environ.pop("TRADELEARN_CONFIG", None)
        self.procs = []

    def args(self, root, logs, *args):
        return [self.bin, "--root", str(root), "--logs", str(logs), "--profile", "canonical",
                *map(str, args)]

    def run(self, root, logs, *args, timeout=120):
        try:
            return subprocess.run(self.args(root, logs, *args), capture_output=True, text=True,
                                  errors="replace", timeout=timeout, cwd=self.cwd,
                                  env=self.environ)
        except subprocess.TimeoutExpired as e:
            raise Failed(f"`{' '.join(map(str, args))}` did not end within {timeout} s "
                         f"(stderr: {tail(e.stderr)})")

    def start(self, root, logs, *args, stderr=None):
        p = subprocess.Popen(self.args(root, logs, *args), stdout=subprocess.DEVNULL,
                             stderr=stderr or subprocess.DEVNULL, cwd=self.cwd, env=self.environ)
        self.procs.append(p)
        return p

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, cwd=self.cwd, env=self.environ, **kw)
        self.procs.append(p)
        return p

    def reap(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []


def tail(text, n=3):
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = (text or "").strip().splitlines()
    return " | ".join(lines[-n:]) if lines else "(empty)"


def make_root(path):
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "tradelearn.json").write_text(json.dumps({"max_line_bytes": MAX_LINE,
                                                      "batch_lines": 50}))
    return path


# ---------------------------------------------------------------- reading

def state_json(root):
    try:
        return json.loads((pathlib.Path(root) / "state" / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def committed_outcome_bytes(root):
    st = state_json(root)
    if not st:
        return b""
    try:
        length = st["outputs"][OUTCOMES]["length"]
        return (pathlib.Path(root) / "state" / OUTCOMES).read_bytes()[:length]
    except (KeyError, TypeError, OSError):
        return b""


def decode_zstd(data):
    if not data:
        return []
    p = subprocess.run(["zstd", "-dcq"], input=data, capture_output=True)
    if p.returncode != 0:
        raise Failed(f"committed outcomes do not decode: {tail(p.stderr)}")
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def outcomes(root):
    return decode_zstd(committed_outcome_bytes(root))


def outcome_ids(root):
    return [o["trade_id"] for o in outcomes(root)]


def by_id(outs):
    return {o["trade_id"]: o for o in outs}


def check_whole(root, what):
    """Nothing half-written: every JSON file parses, every JSON Lines file is
    whole lines, the committed outcomes decode."""
    root = pathlib.Path(root)
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.is_symlink() or ".tmp." in f.name or f.name == "ballast":
            continue
        if f.suffix == ".json" or f.name.endswith(".json.prev"):
            try:
                json.loads(f.read_bytes())
            except ValueError as e:
                raise Failed(f"{what}: {f.relative_to(root)} is half-written ({e})")
        elif f.suffix == ".jsonl":
            data = f.read_bytes()
            if data and not data.endswith(b"\n"):
                raise Failed(f"{what}: {f.relative_to(root)} ends in a torn line")
            for i, line in enumerate(data.splitlines()):
                try:
                    json.loads(line)
                except ValueError:
                    raise Failed(f"{what}: {f.relative_to(root)} line {i + 1} is half-written")
    decode_zstd(committed_outcome_bytes(root))


def verify_ok(env, root, logs, what):
    p = env.run(root, logs, "verify")
    if p.returncode != 0:
        raise Failed(f"{what}: verify exited {p.returncode}: {tail(p.stdout + p.stderr, 4)}")


# ---------------------------------------------------------------- lines

class Bot:
    """Canonical rows with unique trade ids and increasing times."""

    def __init__(self, rng, tag):
        self.rng = rng
        self.tag = tag
        self.n = 0

    def _ts(self, base_h):
        s = self.n
        return f"2026-02-05T{base_h + s // 3600 % 4:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000Z"

    def close(self, pad=0):
        self.n += 1
        tid = f"{self.tag}-{self.n}"
        pnl = round(self.rng.uniform(-5, 5), 2) or 0.5
        row = {"ts": self._ts(15), "event": "close", "trade_id": tid, "symbol": "AAPL",
               "side": "long", "qty": 10, "entry_price": 100.0, "exit_price": 100.0 + pnl / 10,
               "pnl_usd": pnl, "pnl_pct": pnl / 1000, "hold_minutes": 30,
               "close_reason": "take_profit" if pnl > 0 else "stop_loss", "confidence": 0.6,
               "components": {"momentum": round(self.rng.uniform(-1, 1), 3),
                              "order_flow": round(self.rng.uniform(-1, 1), 3)}}
        if pad:
            row["note"] = "x" * pad
        return tid, json.dumps(row) + "\n"

    def open_(self):
        self.n += 1
        return json.dumps({"ts": self._ts(14), "event": "open", "trade_id": f"{self.tag}-o{self.n}",
                           "symbol": "MSFT", "side": "long", "qty": 5, "entry_price": 50.0,
                           "confidence": 0.5, "components": {"momentum": 0.1}}) + "\n"

    def malformed(self):
        return self.rng.choice(['{"ts": "2026-02-05T15:00:00Z", "event": "close"\n', "not json at all\n",
                                '["an", "array"]\n', '{"event":"close","trade_id":7}\n'])


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


# ---------------------------------------------------------------- part: ops

class OpsSequence:
    def __init__(self, env, seed, steps):
        self.env = env
        self.rng = random.Random(seed)
        self.seed = seed
        self.late = 0
        self.steps = steps
        base = env.work / f"ops-{seed}"
        shutil.rmtree(base, ignore_errors=True)
        self.root = make_root(base / "root")
        self.logs = base / "logs"
        self.logs.mkdir(parents=True)
        self.base = base
        self.att = self.logs / "attribution.jsonl"
        self.bot = Bot(self.rng, f"Q{seed}")
        self.required, self.optional, self.forbidden = set(), set(), set()
        self.partial = None  # (id, rest of the line)
        self.daemon = None
        self.err = None
        self.ct_pending = False
        self.synced_inode = None
        self.did = {}
        self.history = []
        self.written = set()

    def count(self, op):
        self.did[op] = self.did.get(op, 0) + 1
        self.history.append(op)
        if os.environ.get("TORTURE_TRACE"):
            print(f"  op: {op} (required {len(self.required)}, learned {len(set(self.learned()))})",
                  flush=True)

    # the daemon
    def start(self):
        self.err = open(self.base / f"watch-{self.did.get('start', 0)}.err", "w")
        self.daemon = self.env.start(self.root, self.logs, "watch", stderr=self.err)
        self.count("start")

    def alive(self):
        if self.daemon and self.daemon.poll() is not None:
            raise Failed(f"watch exited {self.daemon.returncode} by itself: "
                         f"{tail(pathlib.Path(self.err.name).read_text())}")

    def stop(self, sig):
        self.alive()
        if sig == signal.SIGTERM:  # signals are blocked by the time it says it watches
            deadline = time.monotonic() + 20
            while "watching" not in pathlib.Path(self.err.name).read_text():
                self.alive()
                if time.monotonic() > deadline:
                    raise Failed("watch did not say it was watching within 20 s")
                time.sleep(0.01)
        self.daemon.send_signal(sig)
        try:
            rc = self.daemon.wait(30)
        except subprocess.TimeoutExpired:
            raise Failed(f"watch did not end within 30 s of signal {sig}")
        if sig == signal.SIGTERM and rc != 0:
            raise Failed(f"watch exited {rc} on SIGTERM: {tail(pathlib.Path(self.err.name).read_text())}")
        self.daemon = None
        self.count("kill -9" if sig == signal.SIGKILL else "restart")

    def learned(self):
        return outcome_ids(self.root)

    def wait_required(self, timeout=15.0, retried=False):
        deadline = time.monotonic() + timeout
        while True:
            self.alive()
            got = set(self.learned())
            if self.required <= got:
                return
            if time.monotonic() > deadline:
                missing = sorted(self.required - got)
                if not retried and self.daemon:
                    # Not lost (yet): a restart finds rotations it did not
                    # follow. Counted as late, and said, then checked again.
                    self.late += len(missing)
                    print(f"torture ops: finding (seed {self.seed}): {len(missing)} closes not "
                          f"learned {timeout:.0f} s after they were written while watch ran "
                          f"[last operations: {', '.join(self.history[-8:])}]; restarting it",
                          flush=True)
                    self.stop(signal.SIGTERM)
                    self.start()
                    return self.wait_required(timeout, retried=True)
                raise Failed(f"{len(missing)} closes not learned {timeout:.0f} s after they were "
                             f"written (first: {missing[:3]})")
            time.sleep(0.03)

    # the bot's file
    def finish_partial(self):
        if self.partial:
            tid, rest = self.partial
            append(self.att, rest)
            self.partial = None

    def write_closes(self, path, n, into):
        text = []
        for _ in range(n):
            if self.rng.random() < 0.15:
                text.append(self.bot.open_())
            tid, line = self.bot.close()
            into.add(tid)
            text.append(line)
        append(path, "".join(text))
        self.written.add(pathlib.Path(path).name)

    def rotated(self):
        names = []
        for f in self.logs.iterdir():
            rest = f.name[len("attribution.jsonl."):] if f.name.startswith("attribution.jsonl.") else ""
            num = rest.split(".")[0]
            if num.isdigit():
                names.append((int(num), f))
        return sorted(names, reverse=True)

    def shift(self):
        for num, f in self.rotated():
            suffix = f.name[len(f"attribution.jsonl.{num}"):]
            dest = self.logs / f"attribution.jsonl.{num + 1}{suffix}"
            os.rename(f, dest)
            self.written.add(dest.name)

    def op(self):
        r = self.rng.random()
        exists = self.att.exists()
        if r < 0.30:
            self.finish_partial()
            self.write_closes(self.att, self.rng.randint(1, 40), self.required)
            self.count("append")
        elif r < 0.36:
            self.finish_partial()
            tid, line = self.bot.close()
            cut = self.rng.randint(1, len(line) - 2)
            append(self.att, line[:cut])
            self.written.add(self.att.name)
            self.required.add(tid)
            self.partial = (tid, line[cut:])
            self.count("partial line")
        elif r < 0.40:
            self.finish_partial()
            tid, line = self.bot.close(pad=MAX_LINE + self.rng.randint(0, 3 * MAX_LINE))
            self.forbidden.add(tid)
            append(self.att, line)
            self.written.add(self.att.name)
            self.count("long line")
        elif r < 0.44:
            self.finish_partial()
            append(self.att, self.bot.malformed())
            self.written.add(self.att.name)
            self.count("malformed line")
        elif r < 0.52 and exists and len(self.rotated()) < 6:
            self.finish_partial()
            self.shift()
            os.rename(self.att, self.logs / "attribution.jsonl.1")
            self.written.add("attribution.jsonl.1")
            if self.rng.random() < 0.5:  # the bot writes on to its open file for a moment
                self.write_closes(self.logs / "attribution.jsonl.1", self.rng.randint(1, 5),
                                  self.required)
            self.count("rename rotation")
        elif r < 0.58 and exists and not self.ct_pending and len(self.rotated()) < 6:
            self.finish_partial()
            self.shift()
            shutil.copyfile(self.att, self.logs / "attribution.jsonl.1")
            self.written.add("attribution.jsonl.1")
            if self.rng.random() < 0.5:  # written between the copy and the truncation
                self.write_closes(self.att, self.rng.randint(1, 4), self.optional)
                self.count("copytruncate window line")
            os.truncate(self.att, 0)
            self.ct_pending = True
            self.count("copytruncate")
        elif r < 0.63:
            old = [(n, f) for n, f in self.rotated() if n >= 2 and f.suffix not in (".gz", ".zst")]
            if old:
                _, f = self.rng.choice(old)
                if self.rng.random() < 0.5:
                    with open(f, "rb") as src, gzip.open(f"{f}.gz", "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    self.written.add(f.name + ".gz")
                    self.count("gzip")
                else:
                    subprocess.run(["zstd", "-q", "-f", str(f), "-o", f"{f}.zst"], check=True)
                    self.written.add(f.name + ".zst")
                    self.count("zstd")
                os.unlink(f)
        elif r < 0.67 and exists and self.daemon:
            # delete: the follower finishes the file through its descriptor,
            # so it must have opened this one: sync first.
            self.sync()
            self.write_closes(self.att, self.rng.randint(0, 10), self.required)
            os.unlink(self.att)
            self.wait_required()
            self.count("delete")
        elif r < 0.75:
            time.sleep(self.rng.uniform(0, 0.3))
            self.count("pause")
        elif r < 0.80:
            if self.daemon:
                self.sync()
            self.count("sync")
        elif r < 0.86:
            if self.daemon:
                self.stop(signal.SIGTERM)
            self.start()
        elif r < 0.93:
            if self.daemon:
                time.sleep(self.rng.uniform(0, 0.15))
                self.stop(signal.SIGKILL)
            else:
                self.start()
        else:
            if not self.daemon:
                p = self.env.run(self.root, self.logs, "watch", "--once")
                if p.returncode != 0:
                    raise Failed(f"watch --once exited {p.returncode}: {tail(p.stderr)}")
                self.ct_pending = False
                self.count("watch --once")

    def sync(self):
        """One close appended and waited for: the daemon stands at the end."""
        self.finish_partial()
        self.write_closes(self.att, 1, self.required)
        self.wait_required()
        self.ct_pending = False

    def run(self):
        self.start()
        try:
            # The first watch on a folder reads the current file, not older
            # rotations (README): the sequence starts once it has committed.
            self.sync()
            for _ in range(self.steps):
                self.alive()
                self.op()
            self.finish_partial()
            if self.daemon:
                self.stop(signal.SIGTERM)
            p = self.env.run(self.root, self.logs, "watch", "--once")
            if p.returncode != 0:
                raise Failed(f"final watch --once exited {p.returncode}: {tail(p.stderr)}")
            ids = self.learned()
            twice = sorted({i for i in ids if ids.count(i) > 1})
            missing = sorted(self.required - set(ids))
            unknown = sorted(set(ids) - self.required - self.optional)
            if twice or missing or unknown:
                raise Failed(f"model mismatch: {len(missing)} closes never learned {missing[:3]}, "
                             f"{len(twice)} learned twice {twice[:3]}, {len(unknown)} learned that "
                             f"must not be {unknown[:3]} (of {len(self.required)} required, "
                             f"{len(self.optional)} in copytruncate windows)")
            verify_ok(self.env, self.root, self.logs, "after the sequence")
            extra = sorted(f.name for f in self.logs.iterdir() if f.name not in self.written)
            if extra:
                raise Failed(f"tradelearn wrote into the logs folder: {extra}")
            lost = len(self.optional - set(ids))
            return {"closes": len(self.required), "closes learned only after a restart": self.late,
                    "window lines lost": lost,
                    "window lines learned": len(self.optional) - lost}
        except Failed as e:
            raise Failed(f"{e} [last operations: {', '.join(self.history[-8:])}]")
        finally:
            if self.err:
                self.err.close()
            self.env.reap()


def part_ops(env, seed, long):
    steps = random.Random(seed).randint(20, 120 if long else 45)
    seq = OpsSequence(env, seed, steps)
    counts = seq.run()
    shutil.rmtree(seq.base, ignore_errors=True)
    counts.update(seq.did)
    counts["sequences"] = 1
    counts["operations"] = steps
    return counts


# ---------------------------------------------------------------- part: kill

def kill_at_random(env, rng, root, logs, args, span, what):
    """Runs the command and kills it -9 at a random instant of span seconds;
    returns 1 when it was killed, 0 when it had ended first (exit 0)."""
    p = env.start(root, logs, *args, stderr=subprocess.PIPE)
    time.sleep(rng.uniform(0.0, span))
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
        return 1
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.returncode not in (0,):
        raise Failed(f"{what} exited {p.returncode} before its kill: {tail(err)}")
    return 0


def timed(env, root, logs, *args, timeout=600):
    t = time.monotonic()
    p = env.run(root, logs, *args, timeout=timeout)
    if p.returncode != 0:
        raise Failed(f"uninterrupted {' '.join(args)} exited {p.returncode}: {tail(p.stderr)}")
    return time.monotonic() - t, p


def strip_times(x):
    if isinstance(x, dict):
        return {k: strip_times(v) for k, v in x.items()
                if not any(w in k for w in ("generated", "written_at", "_at", "time", "start", "end",
                                            "pid", "duration", "elapsed"))}
    if isinstance(x, list):
        return [strip_times(v) for v in x]
    return x


def part_kill(env, seed, long):
    rng = random.Random(seed)
    kills = KILLS_LONG if long else KILLS_SHORT
    base = env.work / f"kill-{seed}"
    shutil.rmtree(base, ignore_errors=True)
    counts = {"kills": 0, "runs": 0, "verify": 0}

    # live watching while a simulator appends and rotates
    logs = base / "live-logs"
    logs.mkdir(parents=True)
    killed, steady = make_root(base / "live-killed"), make_root(base / "live-steady")
    # Both roots commit their first state before the bot writes: a first
    # watch reads the current file and not older rotations (README), so a
    # first watch killed before its first commit, restarted after a
    # rotation, would rightly skip what the other root read.
    for r in (killed, steady):
        p = env.run(r, logs, "watch", "--once")
        if p.returncode != 0:
            raise Failed(f"first watch --once on the empty logs exited {p.returncode}: {tail(p.stderr)}")
    sim = env.popen([env.bin, "--logs", str(logs), "simulate", "--live", "--rate", "400",
                     "--rotate-every", "1.5", "--max-records", "10000000", "--seed", str(seed % 100000)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    steady_p = env.start(steady, logs, "watch")
    try:
        stale = 0
        for _ in range(kills["live"]):
            counts["kills"] += kill_at_random(env, rng, killed, logs, ["watch"], 0.5, "watch")
            counts["runs"] += 1
            # The bot paused while it is checked: a restart (watch --once)
            # catches up, then verify must agree with it.
            sim.send_signal(signal.SIGSTOP)
            try:
                if env.run(killed, logs, "verify").returncode != 0:
                    stale += 1
                p = env.run(killed, logs, "watch", "--once")
                if p.returncode != 0:
                    raise Failed(f"watch --once after kill {counts['kills']} exited {p.returncode}: "
                                 f"{tail(p.stderr)}")
                verify_ok(env, killed, logs, f"after kill {counts['kills']} during watch and a restart")
            finally:
                sim.send_signal(signal.SIGCONT)
            counts["verify"] += 1
        counts["verify mismatches on the state a kill left, before its restart"] = stale
        if stale:
            print(f"torture kill: finding (seed {seed}): verify on the state a kill left "
                  f"(before the restart that handles the rotations since) reported a mismatch "
                  f"{stale} times of {kills['live']}", flush=True)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
    steady_p.send_signal(signal.SIGTERM)
    if steady_p.wait(30) != 0:
        raise Failed("the uninterrupted watch did not exit 0 on SIGTERM")
    for r in (killed, steady):
        p = env.run(r, logs, "watch", "--once")
        if p.returncode != 0:
            raise Failed(f"final watch --once exited {p.returncode}: {tail(p.stderr)}")
    got, want = outcomes(killed), outcomes(steady)
    if len(got) != len(by_id(got)) or by_id(got) != by_id(want):
        raise Failed(f"live: {len(got)} outcomes after the kills ({len(by_id(got))} distinct), "
                     f"{len(want)} uninterrupted; they differ")
    ks, ss = state_json(killed)["sources"], state_json(steady)["sources"]
    for name in ss:
        for key in ("records_read", "records_learned", "records_quarantined", "records_skipped"):
            if ks[name][key] != ss[name][key]:
                raise Failed(f"live: {name}.{key} is {ks[name][key]} after the kills, {ss[name][key]} uninterrupted")
    counts["live outcomes compared"] = len(got)

    # backfill of a history
    hist = base / "history"
    hist.mkdir()
    p = env.run(base, hist, "simulate", "--days", "4", "--seed", str(seed % 1000 + 1))
    if p.returncode != 0:
        raise Failed(f"simulate exited {p.returncode}: {tail(p.stderr)}")
    ref, bk = make_root(base / "bf-steady"), make_root(base / "bf-killed")
    took, _ = timed(env, ref, hist, "backfill", "--quiet")
    for _ in range(kills["backfill"]):
        counts["kills"] += kill_at_random(env, rng, bk, hist, ["backfill", "--quiet"], took * 1.1, "backfill")
        counts["runs"] += 1
        verify_ok(env, bk, hist, f"after kill {counts['kills']} during backfill")
        counts["verify"] += 1
    timed(env, bk, hist, "backfill", "--quiet")
    got, want = outcomes(bk), outcomes(ref)
    if by_id(got) != by_id(want) or len(got) != len(want):
        raise Failed(f"backfill: {len(got)} outcomes after the kills, {len(want)} uninterrupted; they differ")
    reports = lambda r: sorted(f.name for f in (r / "state" / "reports").glob("post_market_2*.json"))
    if reports(bk) != reports(ref):
        raise Failed(f"backfill: reports {reports(bk)} after the kills, {reports(ref)} uninterrupted")
    counts["backfill outcomes compared"] = len(got)
    day = reports(ref)[-1][len("post_market_"):-len(".json")] if reports(ref) else None

    # daily
    if day:
        a, b = base / "daily-steady", base / "daily-killed"
        shutil.copytree(ref, a, symlinks=True)
        shutil.copytree(ref, b, symlinks=True)
        took, _ = timed(env, a, hist, "daily", "--date", day)
        for _ in range(kills["daily"]):
            counts["kills"] += kill_at_random(env, rng, b, hist, ["daily", "--date", day], took * 1.1, "daily")
            counts["runs"] += 1
            verify_ok(env, b, hist, f"after kill {counts['kills']} during daily")
            counts["verify"] += 1
        timed(env, b, hist, "daily", "--date", day)
        ra = json.loads((a / "state" / "reports" / f"post_market_{day}.json").read_text())
        rb = json.loads((b / "state" / "reports" / f"post_market_{day}.json").read_text())
        if strip_times(ra) != strip_times(rb):
            raise Failed(f"daily: the report of {day} after the kills differs from the uninterrupted one")
        counts["daily reports compared"] = 1

    # retrain
    a, b = base / "rt-steady", base / "rt-killed"
    shutil.copytree(ref, a, symlinks=True)
    shutil.copytree(ref, b, symlinks=True)
    took, pa = timed(env, a, hist, "retrain", "--force", "--json")
    for _ in range(kills["retrain"]):
        counts["kills"] += kill_at_random(env, rng, b, hist, ["retrain", "--force"], took * 1.1, "retrain")
        counts["runs"] += 1
        verify_ok(env, b, hist, f"after kill {counts['kills']} during retrain")
        m = env.run(b, hist, "models", "list", "--json")
        if m.returncode != 0:
            raise Failed(f"models list exited {m.returncode} after a kill during retrain: {tail(m.stderr)}")
        counts["verify"] += 1
    _, pb = timed(env, b, hist, "retrain", "--force", "--json")
    da, db = json.loads(pa.stdout), json.loads(pb.stdout)
    if da.get("decision") != db.get("decision") or strip_times(da.get("figures")) != strip_times(db.get("figures")):
        raise Failed(f"retrain: decision {db.get('decision')} after the kills, {da.get('decision')} uninterrupted, "
                     "or their figures differ")
    counts["retrain decisions compared"] = 1
    env.reap()
    shutil.rmtree(base, ignore_errors=True)
    return counts


# ---------------------------------------------------------------- part: diskfull

class Tmpfs:
    def __init__(self, path, size):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                            str(self.path)], capture_output=True, text=True)
        self.ok = p.returncode == 0
        self.why = p.stderr.strip()

    def fill(self, leave):
        """A ballast file that leaves about `leave` bytes free."""
        ballast = self.path / "ballast"
        st = os.statvfs(self.path)
        free = st.f_bavail * st.f_frsize + (ballast.stat().st_size if ballast.exists() else 0)
        with open(ballast, "wb") as f:
            try:
                f.write(b"\0" * max(0, free - leave))
            except OSError:
                pass

    def free(self):
        try:
            os.unlink(self.path / "ballast")
        except FileNotFoundError:
            pass

    def umount(self):
        if self.ok:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


def said_full(text):
    return text.count("No space left") + text.count("ENOSPC") + text.count("disk full") + \
        text.count("disk is full")


def part_diskfull(env, seed, long):
    rng = random.Random(seed)
    base = env.work / f"diskfull-{seed}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    fs = Tmpfs(base / "fs", "24m")
    if not fs.ok:
        return {"skipped (cannot mount a tmpfs: needs root)": 1}
    counts = {"fills": 0, "reported": 0, "idle lines while full": 0}
    try:
        root = make_root(fs.path / "root")
        logs = base / "logs"
        logs.mkdir()
        att = logs / "attribution.jsonl"
        bot = Bot(rng, f"F{seed}")
        want = set()

        def write(n):
            text = []
            for _ in range(n):
                tid, line = bot.close()
                want.add(tid)
                text.append(line)
            append(att, "".join(text))

        # watch
        write(200)
        errf = open(base / "watch.err", "w+")
        w = env.start(root, logs, "watch", stderr=errf)
        deadline = time.monotonic() + 20
        while set(outcome_ids(root)) != want and time.monotonic() < deadline:
            time.sleep(0.05)
        fs.fill(rng.randint(0, 150_000))
        counts["fills"] += 1
        for _ in range(10):
            write(rng.randint(50, 150))
            time.sleep(0.1)
        time.sleep(2.5)
        errf.flush()
        text = pathlib.Path(errf.name).read_text()
        learned = set(outcome_ids(root))
        if learned != want and not said_full(text) and w.poll() is None:
            raise Failed(f"watch on a full disk: {len(want - learned)} closes unlearned and nothing said")
        counts["reported"] += bool(said_full(text))
        if os.environ.get("TORTURE_TRACE"):
            print(f"  watch on a full disk: exit {w.poll()}, said: {tail(text, 4)}", flush=True)
        if w.poll() is not None:
            counts["watch stopped on a full disk"] = 1
        if w.poll() is None:
            before = said_full(pathlib.Path(errf.name).read_text())
            time.sleep(7)
            idle = said_full(pathlib.Path(errf.name).read_text()) - before
            counts["idle lines while full"] += idle
            if idle > 1:
                raise Failed(f"an idle watch on a full disk said so {idle} times in 7 s")
        check_whole(root, "watch on a full disk")
        s = env.run(root, logs, "status")
        if s.returncode != 0:
            raise Failed(f"status on a full disk exited {s.returncode}: {tail(s.stderr)}")
        fs.free()
        if w.poll() is None:
            deadline = time.monotonic() + 20
            while set(outcome_ids(root)) != want and time.monotonic() < deadline:
                time.sleep(0.1)
            w.send_signal(signal.SIGTERM)
            w.wait(30)
        p = env.run(root, logs, "watch", "--once")
        if p.returncode != 0:
            raise Failed(f"watch --once once space returned exited {p.returncode}: {tail(p.stderr)}")
        ids = outcome_ids(root)
        if sorted(ids) != sorted(want):
            raise Failed(f"after the disk was full: {len(set(want) - set(ids))} closes lost, "
                         f"{len(ids) - len(set(ids))} twice")
        verify_ok(env, root, logs, "after the disk was full during watch")
        counts["watch resumed whole"] = 1

        # an idle daemon on a disk that stays full
        errf = open(base / "idle.err", "w+")
        w = env.start(root, logs, "watch", stderr=errf)
        time.sleep(1.0)
        fs.fill(0)
        time.sleep(7)
        text = pathlib.Path(errf.name).read_text()
        if w.poll() is not None:
            raise Failed(f"an idle watch on a full disk exited {w.returncode}: {tail(text)}")
        counts["idle lines while full"] += said_full(text)
        if said_full(text) > 1:
            raise Failed(f"an idle watch on a full disk said so {said_full(text)} times in 7 s: "
                         f"{tail(text, 4)}")
        fs.free()
        w.send_signal(signal.SIGTERM)
        if w.wait(30) != 0:
            raise Failed(f"the idle watch exited {w.returncode} on SIGTERM once space returned")
        counts["idle watch on a full disk"] = 1

        # daily, retrain, backfill on a full disk
        for job in (["daily", "--date", "2026-02-05"], ["retrain", "--force"], ["backfill", "--quiet"]):
            name = job[0]
            fs.fill(rng.randint(0, 40_000))
            counts["fills"] += 1
            p = env.run(root, logs, *job, timeout=300)
            if p.returncode != 0:
                if not said_full(p.stderr):
                    raise Failed(f"{name} on a full disk exited {p.returncode} without saying the "
                                 f"disk is full: {tail(p.stderr)}")
                counts["reported"] += 1
            check_whole(root, f"{name} on a full disk")
            s = env.run(root, logs, "status")
            if s.returncode != 0:
                raise Failed(f"status after {name} on a full disk exited {s.returncode}: {tail(s.stderr)}")
            fs.free()
            p = env.run(root, logs, *job, timeout=300)
            if p.returncode != 0:
                raise Failed(f"{name} once space returned exited {p.returncode}: {tail(p.stderr)}")
            ids = outcome_ids(root)
            if sorted(ids) != sorted(want):
                raise Failed(f"after {name} on a full disk: {len(set(want) - set(ids))} closes lost, "
                             f"{len(ids) - len(set(ids))} twice")
            verify_ok(env, root, logs, f"after {name} on a full disk")
            counts[f"{name} resumed whole"] = 1
    finally:
        env.reap()
        fs.umount()
        shutil.rmtree(base, ignore_errors=True)
    return counts


# ---------------------------------------------------------------- part: damage

def json_paths(x, path=()):
    """Every key path of a JSON document (objects and arrays)."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield path + (k,)
            yield from json_paths(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x[:3]):
            yield path + (i,)
            yield from json_paths(v, path + (i,))


def get_at(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def edited(value, rng):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, -value - 1, 1 << 40]) if value else rng.choice([1, -1, 7])
    if isinstance(value, float):
        return value * 2 + 1
    if isinstance(value, str):
        return value[:-1] + ("x" if not value.endswith("x") else "y") if value else "x"
    return value


def retyped(value):
    if isinstance(value, (dict, list)):
        return "text"
    if isinstance(value, str):
        return 12345
    return str(value)


class DamageBase:
    """A root that has learned, retrained and reported, and the result of a
    start on it without damage (the control)."""

    def __init__(self, env, seed):
        self.env = env
        self.dir = env.work / "damage-base"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.logs = self.dir / "logs"
        self.logs.mkdir(parents=True)
        self.root = make_root(self.dir / "root")
        for args in (["simulate", "--days", "3", "--seed", "5"], ["watch", "--once"],
                     ["retrain", "--force"], ["daily", "--date", "2026-02-03"]):
            p = env.run(self.root, self.logs, *args, timeout=300)
            if p.returncode != 0 and args[0] != "daily":
                raise Failed(f"damage base: {' '.join(args)} exited {p.returncode}: {tail(p.stderr)}")
        # More for the next start to read, so that a start does something.
        with open(self.logs / "attribution.jsonl", "a") as f:
            bot = Bot(random.Random(1), "D")
            for _ in range(30):
                f.write(bot.close()[1])
        self.files = sorted(str(f.relative_to(self.root)) for f in self.root.rglob("*")
                            if f.is_file() and not f.is_symlink()
                            and f.parts[len(self.root.parts)] in ("state", "models"))
        self.state = json.loads((self.root / "state" / STATE_FILE).read_text())
        self.committed = {k: v["length"] for k, v in self.state["outputs"].items()
                          if isinstance(v, dict) and "length" in v}
        self.copies = 0
        control = self.copy()
        p = env.run(control, self.logs, "watch", "--once")
        if p.returncode != 0:
            raise Failed(f"damage base: an undamaged start exited {p.returncode}: {tail(p.stderr)}")
        self.control = self.result(control)
        self.control_lines = {self.norm(l, control) for l in p.stderr.splitlines()}
        shutil.rmtree(control)

    @staticmethod
    def norm(line, root):
        return "".join("#" if c.isdigit() else c for c in line.replace(str(root), "ROOT"))

    def news(self, stderr, root):
        """The lines of a start's stderr that an undamaged start does not print."""
        return "\n".join(l for l in stderr.splitlines() if self.norm(l, root) not in self.control_lines)

    def copy(self):
        self.copies += 1
        dest = self.dir / f"copy-{self.copies}"
        shutil.copytree(self.root, dest, symlinks=True)
        return dest

    def result(self, root):
        st = state_json(root) or {}
        src = {n: {k: v for k, v in s.items() if k.startswith("records") or k == "offset"}
               for n, s in (st.get("sources") or {}).items() if isinstance(s, dict)}
        try:
            trades = json.loads((root / "models" / "online.json").read_text()).get("trades")
        except (OSError, ValueError, AttributeError):
            trades = None
        return {"outcomes": sorted(outcome_ids(root)), "sources": src, "trades": trades}

    def mutations(self, rng):
        """(name, file, function(root)) for every kind of damage."""
        out = []
        for rel in self.files:
            def trunc(r, rel=rel):
                f = r / rel
                os.truncate(f, f.stat().st_size // 2)

            def empty(r, rel=rel):
                os.truncate(r / rel, 0)

            def garbage(r, rel=rel, seed=rng.random()):
                f = r / rel
                f.write_bytes(random.Random(seed).randbytes(max(16, f.stat().st_size)))

            def stray(r, rel=rel):
                (r / f"{rel}.tmp.{99999}").write_bytes((r / rel).read_bytes()[:10])

            out += [("truncated", rel, trunc), ("emptied", rel, empty), ("garbage", rel, garbage),
                    ("stray temporary file beside", rel, stray)]
            if rel.endswith(".json") or rel.endswith(".json.prev"):
                for shape in ("[]", "42", '"text"', "{}", '{"format": 1}', "null"):
                    out.append((f"wrong shape {shape}", rel,
                                lambda r, rel=rel, shape=shape: (r / rel).write_text(shape)))
                try:
                    doc = json.loads((self.root / rel).read_text())
                except ValueError:
                    doc = None
                leaves = [p for p in json_paths(doc) if not isinstance(get_at(doc, p), (dict, list))]
                if leaves:
                    path = rng.choice(leaves)

                    def edit(r, rel=rel, path=path, seed=rng.random()):
                        d = json.loads((r / rel).read_text())
                        parent = get_at(d, path[:-1])
                        parent[path[-1]] = edited(parent[path[-1]], random.Random(seed))
                        (r / rel).write_text(json.dumps(d))
                    out.append((f"field {'/'.join(map(str, path))} edited", rel, edit))
            if rel.endswith(".zst") or rel.endswith(".jsonl") or rel.endswith(".bin"):
                def torn(r, rel=rel, seed=rng.random()):
                    f = r / rel
                    size = f.stat().st_size
                    if size:
                        os.truncate(f, size - random.Random(seed).randint(1, min(size, 40)))
                out.append(("torn last frame", rel, torn))
        # The state file, key by key.
        rel = f"state/{STATE_FILE}"
        for path in json_paths(self.state):
            name = "/".join(map(str, path))

            def drop(r, path=path):
                d = json.loads((r / rel).read_text())
                parent = get_at(d, path[:-1])
                if isinstance(parent, dict):
                    del parent[path[-1]]
                else:
                    parent.pop(path[-1])
                (r / rel).write_text(json.dumps(d))

            def retype(r, path=path):
                d = json.loads((r / rel).read_text())
                parent = get_at(d, path[:-1])
                parent[path[-1]] = retyped(parent[path[-1]])
                (r / rel).write_text(json.dumps(d))

            out += [(f"key {name} removed", rel, drop), (f"key {name} of the wrong type", rel, retype)]
            if not isinstance(get_at(self.state, path), (dict, list)):
                def edit(r, path=path, seed=rng.random()):
                    d = json.loads((r / rel).read_text())
                    parent = get_at(d, path[:-1])
                    parent[path[-1]] = edited(parent[path[-1]], random.Random(seed))
                    (r / rel).write_text(json.dumps(d))
                out.append((f"key {name} edited", rel, edit))
        return out


def try_damage(env, base, name, rel, mutate):
    root = base.copy()
    try:
        mutate(root)
        before = {k: (root / "state" / k).read_bytes()[:n] if (root / "state" / k).exists() else b""
                  for k, n in base.committed.items()}
        committed = {k: (base.root / "state" / k).read_bytes()[:n] for k, n in base.committed.items()}
        p = env.run(root, base.logs, "watch", "--once", timeout=60)
        what = f"{name} {rel}"
        if p.returncode not in (0, 1):
            raise Failed(f"{what}: watch --once exited {p.returncode}: {tail(p.stderr)}")
        damaged_output = {k for k in committed if before[k] != committed[k]}
        for k, data in committed.items():
            if k in damaged_output:
                continue
            now = (root / "state" / k).read_bytes() if (root / "state" / k).exists() else b""
            if now[:len(data)] != data:
                raise Failed(f"{what}: committed data of {k} cut ({len(data)} committed bytes, "
                             f"{len(now)} now; watch exited {p.returncode}: {tail(p.stderr)})")
        said = base.news(p.stderr, root)
        if p.returncode == 1:
            if not said or not any(a in said.lower() for a in ADVICE):
                raise Failed(f"{what}: refused without saying what to do: {tail(said)}")
            return "refused"
        try:
            res = base.result(root)
        except Failed as e:
            raise Failed(f"{what}: accepted (watch exited 0: {tail(said) if said else 'nothing said'}), "
                         f"and then: {e}")
        if res != base.control:
            diff = [k for k in res if res[k] != base.control[k]]
            if not said:
                raise Failed(f"{what}: accepted silently, and the start's result differs from an "
                             f"undamaged start's ({', '.join(diff)})")
            verify_ok(env, root, base.logs, what)
            return "recovered, said so"
        verify_ok(env, root, base.logs, what)
        return "recovered, said so" if said else "harmless"
    finally:
        shutil.rmtree(root, ignore_errors=True)


_damage_base = {}


def part_damage(env, seed, long):
    """One iteration: one mutation (chosen by the seed) of the base root."""
    if "base" not in _damage_base:
        _damage_base["base"] = DamageBase(env, seed)
    base = _damage_base["base"]
    muts = base.mutations(random.Random(1))
    name, rel, mutate = muts[seed % len(muts)]
    outcome = try_damage(env, base, name, rel, mutate)
    return {"damaged starts": 1, outcome: 1, "kinds of damage known": len(muts)}


# ---------------------------------------------------------------- outside

def snapshot(dirs):
    snap = {}
    for d in dirs:
        d = pathlib.Path(d)
        if not d.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(d):
            for n in filenames + dirnames:
                p = os.path.join(dirpath, n)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                snap[p] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return snap


def tradelearn_named(dir_):
    """Entries of a shared folder (/tmp) that bear tradelearn's names."""
    out = set()
    try:
        for n in os.listdir(dir_):
            if any(w in n for w in ("learning_processing", "trade_outcomes", "quarantine", "learner.",
                                    "tradelearn.json", "model_2")):
                out.add(os.path.join(dir_, n))
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- main

FUNCS = {"ops": part_ops, "kill": part_kill, "diskfull": part_diskfull, "damage": part_damage}


def run_part(env, part, seeds, budget, long, replay):
    seconds, limit = budget
    deadline = time.monotonic() + seconds
    totals, failures, done = {}, [], 0
    start = time.monotonic()
    for seed in seeds:
        if done >= limit or (done and time.monotonic() > deadline):
            break
        if long and part == "damage" and done >= totals.get("kinds of damage known", 1 << 60):
            break  # every kind of damage once
        done += 1
        try:
            counts = FUNCS[part](env, seed, long)
            for k, v in counts.items():
                if k == "kinds of damage known":
                    totals[k] = v
                else:
                    totals[k] = totals.get(k, 0) + v
        except Failed as e:
            failures.append(seed)
            print(f"torture {part}: FAILURE (seed {seed}; replay: --seed {seed} --part {part}): {e}",
                  flush=True)
        except Exception as e:  # the harness itself: still a failure, with its seed
            failures.append(seed)
            print(f"torture {part}: FAILURE in the harness (seed {seed}; replay: --seed {seed} "
                  f"--part {part}): {type(e).__name__}: {e}", flush=True)
        finally:
            env.reap()
    took = time.monotonic() - start
    figures = ", ".join(f"{k} {v}" for k, v in totals.items())
    print(f"torture {part}: {done} runs in {took:.0f} s: {figures}; failures: {len(failures)}",
          flush=True)
    return done, totals, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--bin", required=True)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--short", action="store_true", help="the version make check runs (default)")
    mode.add_argument("--long", action="store_true", help="the version make torture runs")
    ap.add_argument("--part", action="append", choices=PARTS, help="only these parts")
    ap.add_argument("--seed", type=int, help="replay one iteration of --part with this seed")
    ap.add_argument("--seconds", type=float, help="time budget of each part (overrides the default)")
    ap.add_argument("--budget", action="append", default=[], metavar="PART=SECONDS",
                    help="time budget of one part")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args()
    if a.seed is not None and not a.part:
        ap.error("--seed needs --part")
    long = a.long
    budgets = dict(LONG if long else SHORT)
    if a.seconds:
        budgets = {k: (a.seconds, 10 ** 9 if long else v[1]) for k, v in budgets.items()}
    for b in a.budget:
        part, _, secs = b.partition("=")
        if part not in budgets:
            ap.error(f"--budget {b}: no part {part}")
        budgets[part] = (float(secs), budgets[part][1])
    parts = a.part or list(PARTS)
    work = pathlib.Path(tempfile.mkdtemp(prefix="tradelearn-torture-"))
    env = Env(os.path.abspath(a.bin), work)
    watched = [env.cwd, env.home, env.tmp, "/dev/shm", "/var/tmp"]
    before = snapshot(watched)
    shared_before = tradelearn_named("/tmp") | tradelearn_named(tempfile.gettempdir())
    master = random.Random(int(time.time()) if a.seed is None else a.seed)
    print(f"torture: {'long' if long else 'short'} run of {', '.join(parts)} in {work}", flush=True)
    failures = 0
    try:
        for part in parts:
            if a.seed is not None:
                seeds = [a.seed]
            elif part == "damage" and long:  # every kind of damage in turn
                off = master.randrange(1 << 20)
                seeds = [off + i for i in range(10 ** 6)]
            else:
                seeds = [master.randrange(1, 1 << 30) for _ in range(10 ** 5)]
            _, _, fails = run_part(env, part, iter(seeds), budgets[part], long, a.seed is not None)
            failures += len(fails)
        after = snapshot(watched)
        outside = sorted(p for p in set(after) | set(before) if before.get(p) != after.get(p))
        outside += sorted((tradelearn_named("/tmp") | tradelearn_named(tempfile.gettempdir()))
                          - shared_before)
        print(f"torture outside: the processes' working folder, HOME and TMPDIR, /dev/shm, /var/tmp "
              f"and tradelearn's names in /tmp: {len(before)} entries before, {len(after)} after, "
              f"{len(outside)} new or changed"
              + (f" ({', '.join(outside[:5])})" if outside else ""), flush=True)
        failures += bool(outside)
    finally:
        env.reap()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"failures: {failures}", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
