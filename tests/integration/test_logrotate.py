"""Debian's real logrotate, with the README's configs, while a bot writes and watch runs.

The configs are read from the README's "Log rotation" section; the test
changes only the folder (/srv/bot/logs -> the test's), `rotate 14` to
`rotate 2` where old files are to be deleted, and `maxsize 100M` to a size
this test's writer reaches in a fraction of a second.
"""
import gzip
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import PROJECT, canonical_close, trade_ids

LOGROTATE = shutil.which("logrotate") or ("/usr/sbin/logrotate"
                                          if os.access("/usr/sbin/logrotate", os.X_OK) else None)
pytestmark = pytest.mark.skipif(not LOGROTATE,
                                reason="logrotate is not installed (make deps installs it)")


def readme_configs():
    """The logrotate configs of the README's "Log rotation" section, in order."""
    text = (PROJECT / "README.md").read_text()
    section = text.split("\n## Log rotation\n", 1)[1].split("\n## ", 1)[0]
    return [b for b in re.findall(r"```\n(.*?)```", section, re.S) if "/srv/bot/logs/" in b]


def config(kind):
    blocks = readme_configs()
    assert len(blocks) == 3, blocks
    recommended, dated, copying = blocks
    assert "copytruncate" not in recommended and "create 0640" in recommended
    assert "dateext" in dated and "copytruncate" in copying
    return {"create": recommended, "dateext": dated, "copytruncate": copying}[kind]


class Bot:
    """A bot appending one close per write(2) from a thread.

    reopen: it reopens its log when the name points to another file (as
    Python's WatchedFileHandler does); otherwise it keeps its descriptor
    (O_APPEND), as a bot under copytruncate does."""

    def __init__(self, path, first, reopen, pause=0.002):
        self.path, self.next, self.reopen, self.pause = path, first, reopen, pause
        self.first = first
        self.stopping = threading.Event()
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopping.is_set():
            if self.reopen:
                try:
                    ino = os.stat(self.path).st_ino
                except FileNotFoundError:
                    ino = None  # between the rename and the create: keep writing the old one
                if ino is not None and ino != os.fstat(self.fd).st_ino:
                    os.close(self.fd)
                    self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.write(self.fd, (canonical_close(self.next) + "\n").encode())
            self.next += 1
            time.sleep(self.pause)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        os.close(self.fd)

    def written(self):
        return [f"T{i:06d}" for i in range(0, self.next)]


def write_conf(root, tmp_path, kind, rotate=None, maxsize=None):
    text = config(kind).replace("/srv/bot/logs/", f"{root.logs}/")
    if rotate:
        text = text.replace("rotate 14", f"rotate {rotate}")
    if maxsize:
        text = text.replace("maxsize 100M", f"maxsize {maxsize}")
    conf = tmp_path / f"{kind}.conf"
    conf.write_text(text)
    conf.chmod(0o644)  # logrotate refuses a config that others may write
    return conf


def logrotate(conf, state, force=True):
    p = subprocess.run([LOGROTATE, "-v", *(["-f"] if force else []), "-s", str(state),
                        str(conf)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stderr.count("\nrotating log ") + p.stderr.startswith("rotating log ")


def started(root, n=20):
    att = root.logs / "attribution.jsonl"
    with open(att, "w") as f:
        f.write("".join(canonical_close(i) + "\n" for i in range(n)))
    att.chmod(0o640)
    w = root.start_watch()
    assert root.wait_for(lambda: len(root.outcomes()) == n)
    return att, w


def finished(root, w, expected):
    """Every expected trade recorded, none twice, no line read twice."""
    root.wait_for(lambda: len(root.outcomes()) >= len(expected), timeout=30)
    time.sleep(0.3)
    rc, err = root.stop(w)
    assert rc == 0, err
    got = trade_ids(root.outcomes())
    assert len(got) == len(set(got)), "a trade recorded twice"
    assert root.source()["skipped_by_reason"]["duplicate"] == 0
    return got


def rotated_files(root):
    return sorted(p.name for p in root.logs.iterdir() if p.name != "attribution.jsonl"
                  and p.name.startswith("attribution.jsonl"))


def ids_on_disk(root):
    ids = set()
    for p in root.logs.iterdir():
        if not p.name.startswith("attribution.jsonl"):
            continue
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        ids.update(re.findall(rb'"trade_id": "(T\d{6})"', data))
    return {i.decode() for i in ids}


@pytest.mark.parametrize("kind", ["create", "dateext"])
def test_forced_rotations_in_a_row_with_old_files_deleted_record_every_trade_once(
        root, tmp_path, kind):
    conf = write_conf(root, tmp_path, kind, rotate=2)
    att, w = started(root)
    rotations = 0
    with Bot(att, 20, reopen=True) as bot:
        for _ in range(5):
            time.sleep(1.05 if kind == "dateext" else 0.3)  # dateext: a new name each second
            rotations += logrotate(conf, tmp_path / "state")
        time.sleep(0.3)
    assert rotations == 5
    # rotate 2: the older files were deleted, the newest is plain (delaycompress).
    left = rotated_files(root)
    assert len(left) == 2 and sum(n.endswith(".gz") for n in left) == 1, left
    if kind == "dateext":
        assert all(re.fullmatch(r"attribution\.jsonl-\d{8}-\d{6}(\.gz)?", n) for n in left), left
    else:
        assert left == ["attribution.jsonl.1", "attribution.jsonl.2.gz"]
    assert bot.next > 500
    assert finished(root, w, bot.written()) == bot.written()


def test_forced_rotations_back_to_back_with_create_record_every_trade_once(root, tmp_path):
    conf = write_conf(root, tmp_path, "create", rotate=3)
    att, w = started(root)
    with Bot(att, 20, reopen=True) as bot:
        time.sleep(0.2)
        for _ in range(4):
            logrotate(conf, tmp_path / "state")  # no pause between them
        time.sleep(0.3)
    assert finished(root, w, bot.written()) == bot.written()


def test_maxsize_rotates_by_size_between_daily_rotations_and_every_trade_is_recorded_once(
        root, tmp_path):
    conf = write_conf(root, tmp_path, "create", rotate=14, maxsize="64k")
    att, w = started(root)
    with Bot(att, 20, reopen=True) as bot:
        for _ in range(4):
            # Below the size, and not due by time (daily, just recorded): kept.
            assert att.stat().st_size < 64 * 1024
            assert logrotate(conf, tmp_path / "state", force=False) == 0
            assert root.wait_for(lambda: att.stat().st_size > 64 * 1024, timeout=30)
            # Past it: rotated, between two daily rotations.
            assert logrotate(conf, tmp_path / "state", force=False) == 1
        time.sleep(0.3)
    assert len(rotated_files(root)) == 4
    state = (tmp_path / "state").read_text()
    assert str(att) in state
    assert finished(root, w, bot.written()) == bot.written()


def test_copytruncate_forced_in_a_row_loses_only_lines_written_between_copy_and_truncate(
        root, tmp_path):
    conf = write_conf(root, tmp_path, "copytruncate")
    att, w = started(root)
    with Bot(att, 20, reopen=False) as bot:
        for _ in range(5):
            time.sleep(0.4)
            assert logrotate(conf, tmp_path / "state") == 1
        time.sleep(0.3)
    written = bot.written()
    got = finished(root, w, written)
    on_disk = ids_on_disk(root)
    # Everything logrotate kept was recorded, once.
    assert on_disk <= set(got)
    lost = sorted(set(written) - set(got))
    # What is missing is in no file: the lines the bot wrote between a copy
    # and its truncation (at most a few per rotation at this rate).
    assert not set(lost) & on_disk
    assert len(lost) <= 5 * 20, lost
    assert set(got) <= set(written)
