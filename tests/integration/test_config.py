"""The config file's ranges through the real binary: a value a module would
refuse is refused when the file is loaded, by every command, once, with its
line (a SIGHUP with such a file: test_daemon.py)."""
import pytest

from conftest import append, canonical_close

CLAMP_INVERTED = '{\n  "learner": {\n    "weight_min": 3,\n    "weight_max": 2\n  }\n}\n'
HUGE = 9223372036854775807


def write(root, text):
    (root.path / "tradelearn.json").write_text(text)


@pytest.mark.parametrize("command", [("watch", "--once"), ("daily",), ("status",)])
def test_a_learner_clamp_with_its_minimum_above_its_maximum_is_refused_at_load(root, command):
    write(root, CLAMP_INVERTED)
    p = root.run(*command, check=False)
    assert p.returncode == 1, p.stderr
    message = "tradelearn.json:3: learner.weight_min: must not be above weight_max (2)"
    assert p.stderr.count(message) == 1, p.stderr
    assert len(p.stderr.splitlines()) == 1, p.stderr
    assert not (root.state / "reports").exists()


def test_batch_lines_beyond_its_range_is_refused_with_its_line(root):
    write(root, '{\n  "batch_lines": %d\n}\n' % HUGE)
    append(root.logs / "attribution.jsonl", canonical_close(1) + "\n")
    p = root.run("watch", "--once", check=False)
    assert p.returncode == 1, p.stderr
    assert "tradelearn.json:2: batch_lines: must be an integer from 1 to 1000000" in p.stderr
    assert root.outcomes() == []


def test_a_huge_rescan_interval_is_refused_at_start_with_its_line(root):
    write(root, '{\n  "rescan_interval_ms": %d\n}\n' % HUGE)
    p = root.run("watch", check=False, timeout=10)
    assert p.returncode == 1, p.stderr
    assert ("tradelearn.json:2: rescan_interval_ms: must be an integer from 10 to 3600000"
            in p.stderr)
    assert "timerfd" not in p.stderr
