"""make bench on tiny inputs: every benchmark runs and prints its figure, so
the benchmark code cannot rot. Nothing here looks at a speed."""
import pathlib
import subprocess
import sys

from conftest import BIN, PROJECT

BENCH = PROJECT / "tests/bench"
sys.path.insert(0, str(BENCH))
import run_bench  # noqa: E402  (the list of figures it promises)


def test_bench_smoke_prints_every_figure_beside_its_target_and_command(tmp_path):
    floor = pathlib.Path(BIN).parent / "tests/bench/parse_floor"
    p = subprocess.run([sys.executable, str(BENCH / "run_bench.py"), "--smoke", "--floor",
                        str(floor), "--keep", str(tmp_path / "work"), BIN],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    summary = p.stdout.split("\nsummary:\n", 1)[1].splitlines()
    lines = [line.strip() for line in summary if " | target " in line]
    names = [line.split(" | ")[0] for line in lines]
    assert names == run_bench.FIGURES
    for line in lines:
        name, value, target, result, command = line.split(" | ", 4)
        assert value and not value.startswith("nan"), line
        assert target.startswith("target "), line
        assert result in ("PASS", "MISS", "-"), line
        assert command.startswith("$ "), line
        # A figure with a target says whether it is met.
        assert (target == "target -") == (result == "-") or "not available" in value, line
    assert p.stdout.rstrip().endswith("targets missed")


def test_reference_learner_counts_the_closes_and_learns_from_each_trade(tmp_path):
    root = tmp_path / "root"
    subprocess.run([BIN, "--root", str(root), "simulate", "--profile", "stock-bot", "--days", "2",
                    "--seed", "5", "--truth", str(tmp_path / "truth.json")], check=True,
                   capture_output=True)
    files = sorted(str(f) for f in (root / "logs").glob("*.jsonl"))
    out = subprocess.run([sys.executable, str(BENCH / "reference_learner.py"), *files],
                         check=True, capture_output=True, text=True).stdout
    import json
    got = json.loads(out)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert got["closes"] == truth["closes"] and got["partials"] == truth["partial_closes"]
    assert got["trades_learned"] == got["closes"] + got["partials"]
    assert got["malformed"] > 0 and got["lines"] == sum(1 for f in files for _ in open(f, "rb"))
