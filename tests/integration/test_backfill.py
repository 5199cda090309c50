"""tradelearn backfill: all of history into a new state, equal to a live watch."""
import datetime
import gzip
import hashlib
import json
import lzma
import os
import random
import shutil
import signal
import subprocess
import tarfile
import time
import zoneinfo

import pytest

from conftest import BIN, FIXTURE, Root, append, canonical_close

SOURCES = ["attribution.jsonl", "exits.jsonl", "orders.jsonl", "signals.jsonl"]
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def simulated(tmp_path, days, seed):
    """The lines a simulated bot wrote, per file, and the folder holding them."""
    src = Root(tmp_path / f"sim{seed}")
    src.run("simulate", "--days", days, "--seed", seed)
    return src


def ts_of(line, last):
    try:
        ts = json.loads(line)["ts"]
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return last


def merged_lines(logs):
    """Every line of every source, in the order a bot writing them live would
    have written them (by time; a line without one stays after its source's
    previous line)."""
    out = []
    for k, name in enumerate(SOURCES):
        last = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
        for i, line in enumerate((logs / name).read_text().splitlines(keepends=True)):
            last = ts_of(line, last)
            out.append((last, k, i, name, line))
    out.sort(key=lambda t: t[:3])
    return out


def slot_of(day):
    """16:05 in New York on day, the default daily slot, in UTC."""
    local = datetime.datetime.combine(day, datetime.time(16, 5), tzinfo=NEW_YORK)
    return local.astimezone(datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_daily(root, day):
    env = dict(os.environ, TRADELEARN_TEST_CLOCK=iso(slot_of(day)))
    p = subprocess.run(root.args("daily", "--date", day.isoformat()), capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr


def compress(path, how):
    data = path.read_bytes()
    if how == "gz":
        (path.parent / (path.name + ".gz")).write_bytes(gzip.compress(data))
    elif how == "xz":
        (path.parent / (path.name + ".xz")).write_bytes(lzma.compress(data))
    else:
        subprocess.run(["zstd", "-q", "-f", str(path), "-o", str(path) + ".zst"], check=True)
    path.unlink()


class Rotator:
    """logrotate by hand: rename-and-create or copytruncate, numbered
    rotations shifted, the older ones compressed with gzip, zstd or xz."""

    def __init__(self, logs):
        self.logs = logs
        self.count = {}
        self.n = 0

    def rotate(self, name):
        k = self.count.get(name, 0) + 1
        self.count[name] = k
        live = self.logs / name
        # Numbered rotations shift up: NAME.1 becomes NAME.2 and so on.
        for i in range(k - 1, 0, -1):
            for old in self.logs.glob(f"{name}.{i}*"):
                suffix = old.name[len(f"{name}.{i}"):]
                old.rename(self.logs / f"{name}.{i + 1}{suffix}")
        if self.n % 2 == 0:
            live.rename(self.logs / f"{name}.1")
            live.touch()
        else:
            shutil.copyfile(live, self.logs / f"{name}.1")
            with open(live, "r+") as f:
                f.truncate(0)
        self.n += 1
        second = self.logs / f"{name}.2"
        if second.exists():
            compress(second, ["gz", "zst", "xz"][self.n % 3])


def live_run(tmp_path, src):
    """A watch over the records as they were appended (a catch-up after each
    bit of writing, rotations between), and the daily job at each day's slot
    with what was committed by then: root A."""
    a = Root(tmp_path / "live")
    lines = merged_lines(src.logs)
    days = sorted({t.astimezone(NEW_YORK).date() for t, *_ in lines})
    rot = Rotator(a.logs)
    for name in SOURCES:
        (a.logs / name).touch()
    pending = [d for d in days if d.weekday() < 5]
    written = 0
    for t, _, _, name, line in lines:
        while pending and t >= slot_of(pending[0]):
            a.run("watch", "--once")
            run_daily(a, pending.pop(0))
        append(a.logs / name, line)
        written += 1
        if written % 200 == 0:
            a.run("watch", "--once")
            rot.rotate(SOURCES[(written // 200) % len(SOURCES)])
        if written % 97 == 0:
            a.run("watch", "--once")
    a.run("watch", "--once")
    for day in pending:
        run_daily(a, day)
    return a, days


def learned(root):
    st = root.state_json()
    gen = json.loads((root.state / st["learner_file"]).read_text())
    gen.pop("feed", None)
    return gen


def assert_close(x, y, path="learner"):
    if isinstance(x, dict):
        assert set(x) == set(y), path
        for k in x:
            assert_close(x[k], y[k], f"{path}/{k}")
    elif isinstance(x, list):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y)):
            assert_close(u, v, f"{path}[{i}]")
    elif isinstance(x, float) or isinstance(y, float):
        assert x == pytest.approx(y, rel=1e-12, abs=1e-12), path
    else:
        assert x == y, path


def report(root, day):
    r = json.loads((root.state / "reports" / f"post_market_{day}.json").read_text())
    r.pop("generated_at")
    return r


def by_id(outcomes):
    return sorted(outcomes, key=lambda o: o["trade_id"])


def archive_old(logs):
    """Old compressed rotations go into a tar of old logs."""
    old = sorted(p for p in logs.iterdir() if p.name.endswith((".3.gz", ".3.zst", ".3.xz",
                                                             ".4.gz", ".4.zst", ".4.xz")))
    with tarfile.open(logs / "old-logs.tar", "w") as tar:
        for p in old:
            tar.add(p, arcname=f"logs/{p.name}")
    for p in old:
        p.unlink()
    return old


def test_backfill_over_rotated_compressed_and_archived_history_equals_the_live_watch(tmp_path):
    src = simulated(tmp_path, 3, 11)
    a, days = live_run(tmp_path, src)
    b = Root(tmp_path / "backfilled")
    shutil.rmtree(b.logs)
    shutil.copytree(a.logs, b.logs)
    assert archive_old(b.logs), "the history has rotations old enough to archive"
    names = {p.name for p in b.logs.iterdir()}
    assert any(n.endswith(".gz") for n in names) and any(n.endswith(".zst") for n in names)
    assert any(n.endswith(".xz") for n in names)
    # A copytruncate caught between its copy and its truncate, and the same
    # rows kept twice, plain and compressed.
    shutil.copyfile(b.logs / "attribution.jsonl", b.logs / "attribution.jsonl-20260110")
    plain = next(p for p in sorted(b.logs.iterdir()) if p.name.endswith(".jsonl.1"))
    (b.logs / (plain.name + ".gz")).write_bytes(gzip.compress(plain.read_bytes()))

    p = b.run("backfill", "--quiet")
    assert "daily reports written" in p.stderr
    out_a, out_b = by_id(a.outcomes()), by_id(b.outcomes())
    assert len(out_b) == len({o["trade_id"] for o in out_b}), "every closed trade once"
    assert out_b == out_a
    assert_close(learned(a), learned(b))
    for day in days:
        if day.weekday() < 5:
            assert report(b, day) == report(a, day), day
    for name in ("knobs.json", "signal_weights.json", "exit_weights.json"):
        ja, jb = (json.loads((r.state / name).read_text()) for r in (a, b))
        for j in (ja, jb):
            j.pop("as_of", None) if name != "knobs.json" else None
            j.pop("generated_at", None)
        assert_close(ja, jb, name)


def files_of(state):
    """Every file of a state folder and its bytes' digest."""
    out = {}
    for p in sorted(state.rglob("*")):
        if p.is_file() and p.name != ".lock":
            out[str(p.relative_to(state))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_a_backfill_killed_at_random_moments_resumes_to_the_same_state_and_the_old_state_stays_untouched(
        tmp_path):
    # Enough history that a backfill outlasts the kill windows below.
    src = simulated(tmp_path, 48, 5)
    whole = Root(tmp_path / "whole")
    shutil.rmtree(whole.logs)
    shutil.copytree(src.logs, whole.logs)
    whole.run("backfill", "--quiet")

    r = Root(tmp_path / "killed")
    shutil.rmtree(r.logs)
    shutil.copytree(src.logs, r.logs)
    # An old state: a watch that read the first lines of the attribution.
    att = (r.logs / "attribution.jsonl").read_text().splitlines(keepends=True)
    (r.logs / "attribution.jsonl").write_text("".join(att[:50]))
    r.run("watch", "--once")
    (r.logs / "attribution.jsonl").write_text("".join(att))
    before = files_of(r.state)
    rng = random.Random(10)
    kills = mid_replay = 0
    finished = None  # a run that ended before its kill: it resumed the killed ones
    for attempt in range(40):
        p = subprocess.Popen(r.args("backfill", "--quiet"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.02, 0.3))
        if p.poll() is not None:
            finished = p.stderr.read().decode()
            break
        p.kill()
        p.wait()
        kills += 1
        mid_replay += (r.path / "state.backfill" / "learning_processing_state.json").exists()
        assert files_of(r.state) == before, f"the old state changed before the swap (kill {kills})"
        status = r.run("status", "--json")
        assert json.loads(status.stdout)
    assert kills >= 10
    assert mid_replay >= 3, "some kills came after the replay had committed"
    if finished is None:
        finished = r.run("backfill", "--quiet").stderr
    assert "resumed" in finished
    assert by_id(r.outcomes()) == by_id(whole.outcomes())
    assert_close(learned(whole), learned(r))
    assert not (r.path / "state.backfill").exists()


def test_backfill_with_one_job_and_with_two_gives_the_same_state(tmp_path):
    src = simulated(tmp_path, 4, 9)
    roots = []
    for jobs in (1, 2):
        r = Root(tmp_path / f"jobs{jobs}")
        shutil.rmtree(r.logs)
        shutil.copytree(src.logs, r.logs)
        r.run("backfill", "--quiet", "--jobs", jobs)
        roots.append(r)
    assert roots[0].outcomes() == roots[1].outcomes()
    assert learned(roots[0]) == learned(roots[1])


def test_backfill_refuses_a_root_held_by_a_running_watch_with_exit_75(root):
    append(root.logs / "attribution.jsonl", canonical_close(1) + "\n")
    w = root.start_watch()
    assert root.wait_for(lambda: len(root.outcomes()) == 1)
    p = root.run("backfill", check=False)
    assert p.returncode == 75
    assert "stop its watch first" in p.stderr
    rc, _ = root.stop(w)
    assert rc == 0


def test_a_watch_after_a_backfill_learns_nothing_twice_and_picks_up_new_appends(root):
    att = root.logs / "attribution.jsonl"
    append(att, "".join(canonical_close(i) + "\n" for i in range(20)))
    append(att, canonical_close(20)[:30])  # a line still being written
    root.run("backfill", "--quiet")
    assert len(root.outcomes()) == 20
    root.run("watch", "--once")
    assert len(root.outcomes()) == 20
    assert root.source()["records_read"] == 20
    with open(att, "a") as f:
        f.write(canonical_close(20)[30:] + "\n")
    append(att, "".join(canonical_close(i) + "\n" for i in range(21, 25)))
    root.run("watch", "--once")
    ids = sorted(o["trade_id"] for o in root.outcomes())
    assert ids == [f"T{i:06d}" for i in range(25)]
    assert root.source()["skipped_by_reason"]["duplicate"] == 0


@pytest.mark.skipif(not (FIXTURE / "attribution.jsonl.gz").exists(),
                    reason=f"stock-bot fixture not found at {FIXTURE} (it ships beside the project)")
def test_backfill_of_the_gzipped_stock_bot_fixture_records_976_closes_17_partials_and_4_reports(
        tmp_path):
    bot = Root(tmp_path / "root", profile="stock-bot")
    for name in ("attribution.jsonl.gz", "exit_attribution.jsonl.gz", "blocked_trades.jsonl.gz"):
        shutil.copyfile(FIXTURE / name, bot.logs / name)
    bot.run("backfill", "--quiet")
    out = bot.outcomes()
    assert len([o for o in out if o["trade_id"].startswith("close_")]) == 976
    assert len([o for o in out if o["trade_id"].startswith("scale_")]) == 17
    reports = sorted(p.name for p in (bot.state / "reports").glob("post_market_2026-*.json"))
    assert len(reports) == 4, reports
