"""Shared helpers: run the real tradelearn binary on real files in a temp root."""
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
BIN = os.environ.get("TRADELEARN_BIN") or str(PROJECT / ".build/tradelearn")
FIXTURE = PROJECT.parent / "shared" / "fixtures" / "stock-bot-2026-02-10"


class Root:
    """A tradelearn root (logs/, state/, models/) in a temporary folder."""

    def __init__(self, path, profile="canonical"):
        self.path = pathlib.Path(path)
        self.logs = self.path / "logs"
        self.state = self.path / "state"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.profile = profile
        self.procs = []

    def args(self, *args):
        return [BIN, "--root", str(self.path), "--profile", self.profile, *map(str, args)]

    def run(self, *args, check=True, timeout=120):
        p = subprocess.run(self.args(*args), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{args} exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}")
        return p

    def start_watch(self, *args):
        p = subprocess.Popen(self.args("watch", *args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=30):
        p.send_signal(sig)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, err

    def state_json(self):
        path = self.state / "learning_processing_state.json"
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def outcomes(self):
        """The committed outcomes, decoded with the zstd command line tool."""
        st = self.state_json()
        if not st:
            return []
        length = st["outputs"]["outcomes/trade_outcomes.jsonl.zst"]["length"]
        data = (self.state / "outcomes" / "trade_outcomes.jsonl.zst").read_bytes()[:length]
        if not data:
            return []
        out = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
        return [json.loads(line) for line in out.decode().splitlines()]

    def quarantine(self):
        path = self.state / "quarantine.jsonl"
        if not path.exists():
            return []
        return [json.loads(l) for l in path.read_text().splitlines()]

    def source(self, name="attribution"):
        return self.state_json()["sources"][name]

    def wait_for(self, predicate, timeout=10.0, interval=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        return predicate()

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def root(tmp_path):
    r = Root(tmp_path / "root")
    yield r
    r.cleanup()


def canonical_open(i, symbol="AAPL", side="long", ts=None):
    ts = ts or f"2026-02-05T15:{i // 60 % 60:02d}:{i % 60:02d}.000000Z"
    return json.dumps({"ts": ts, "event": "open", "trade_id": f"T{i:06d}", "symbol": symbol,
                       "side": side, "qty": 10, "entry_price": 100.0, "confidence": 0.6,
                       "components": {"momentum": 0.5, "order_flow": -0.2}})


def canonical_close(i, pnl=1.5, symbol="AAPL", side="long", event="close", ts=None):
    ts = ts or f"2026-02-05T16:{i // 60 % 60:02d}:{i % 60:02d}.000000Z"
    exit_price = 100.0 + (pnl / 10 if side == "long" else -pnl / 10)
    return json.dumps({"ts": ts, "event": event, "trade_id": f"T{i:06d}", "symbol": symbol,
                       "side": side, "qty": 10, "entry_price": 100.0, "exit_price": exit_price,
                       "pnl_usd": pnl, "pnl_pct": pnl / 1000, "hold_minutes": 30,
                       "close_reason": "take_profit" if pnl > 0 else "stop_loss",
                       "confidence": 0.6, "components": {"momentum": 0.5, "order_flow": -0.2}})


def append(path, text):
    with open(path, "a") as f:
        f.write(text)
        f.flush()


def trade_ids(outcomes):
    return sorted(o["trade_id"] for o in outcomes)


def sealed(doc):
    """The text of a state file holding doc, with the checksum the README
    describes: the SHA-256 of the file's bytes with its 64 digits as zeros."""
    doc = {k: v for k, v in doc.items() if k != "checksum"}
    doc["checksum"] = "sha256:" + "0" * 64
    text = json.dumps(doc, indent=2) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return text.replace('"sha256:' + "0" * 64, '"sha256:' + digest)
