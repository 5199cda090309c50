"""Scoring candidate trades with the online or the deployed model, and how
status reports the model's own progressive scores."""
import json
import os
import re
import shutil
import subprocess

import pathlib

import pytest

from conftest import PROJECT, Root, canonical_close, canonical_open

CANDIDATE_KEYS = ("components", "confidence", "score", "regime", "time_of_day", "day_of_week",
                  "side", "timeframe", "sector", "symbol")


def readme_scorer():
    """The README's Python loader and scorer, taken from README.md itself so that
    they cannot drift; a fresh copy (an empty cache) at every call."""
    text = (PROJECT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "the README shows one Python block that loads and scores"
    lines = [l for l in blocks[0].splitlines() if l.strip()]
    assert len(lines) <= 26, "the README's loader and scorer stay short"
    scope = {}
    exec(blocks[0], scope)
    return scope


def readme_score_function():
    """score(path of a model file, trade), by the README's scorer."""
    score = readme_scorer()["score"]
    return lambda path, trade: score(json.loads(pathlib.Path(path).read_text()), trade)


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    r = Root(tmp_path_factory.mktemp("scoring") / "root")
    r.run("simulate", "--days", 20, "--seed", 3)
    r.run("watch", "--once")
    return r


def candidates_of(outcomes, n=200):
    step = max(1, len(outcomes) // n)
    return [{k: o[k] for k in CANDIDATE_KEYS} for o in outcomes[::step]][:n]


def run_score(r, lines, *args):
    return subprocess.run(r.args("score", *args), input="".join(l + "\n" for l in lines),
                          capture_output=True, text=True, timeout=60)


def test_score_gives_what_the_readme_function_computes_from_online_json(learned):
    outcomes = learned.outcomes()
    assert len(outcomes) > 300
    cands = candidates_of(outcomes)
    assert len(cands) == 200
    p = run_score(learned, [json.dumps(c) for c in cands])
    assert p.returncode == 0, p.stderr
    got = p.stdout.splitlines()
    assert len(got) == len(cands)
    score = readme_score_function()
    path = str(learned.path / "models" / "online.json")
    for c, line in zip(cands, got):
        assert float(line) == pytest.approx(score(path, c), abs=1e-12, rel=0)
        # 17 significant digits: the text is the exact double
        assert float(repr(float(line))) == float(line)
    # the model has learned something: the candidates are not all alike
    assert len(set(got)) > 100


def test_an_unseen_symbol_and_missing_components_score_like_the_readme(learned):
    base = candidates_of(learned.outcomes(), 1)[0]
    unseen = dict(base, symbol="NEVER-TRADED")
    bare = {k: v for k, v in base.items() if k != "components"}
    nothing = {}
    nulls = {k: None for k in CANDIDATE_KEYS}
    # Numbers far outside anything seen count as clipped, in both.
    extreme = dict(base, confidence=1e200, score=-1.5e308,
                   components={k: 1e300 for k in (base.get("components") or {})})
    cands = [unseen, bare, nothing, nulls, extreme]
    p = run_score(learned, [json.dumps(c) for c in cands])
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    score = readme_score_function()
    path = str(learned.path / "models" / "online.json")
    got = [float(x) for x in p.stdout.splitlines()]
    assert len(got) == 5
    for c, value in zip(cands, got):
        assert 0 < value < 1
        assert value == pytest.approx(score(path, c), abs=1e-12, rel=0)
    assert got[2] == got[3]  # absent and null are the same: unknown


def test_a_bad_line_prints_null_is_named_on_stderr_and_fails_at_the_end(learned):
    good = json.dumps(candidates_of(learned.outcomes(), 1)[0])
    lines = [good, "not json", '{"symbol": 5}', "[1, 2]", '{"components": [1]}',
             '{"confidence": "high"}', good]
    p = run_score(learned, lines)
    assert p.returncode == 1
    out = p.stdout.splitlines()
    assert len(out) == len(lines)
    assert out[1:6] == ["null"] * 5
    assert float(out[0]) == float(out[6])
    for n, what in ((2, "not JSON"), (3, "symbol"), (4, "not a JSON object"),
                    (5, "components"), (6, "confidence")):
        assert re.search(rf"line {n}: .*{what}", p.stderr), p.stderr
    assert "line 1:" not in p.stderr and "line 7:" not in p.stderr


def test_score_json_prints_the_line_number_and_the_probability(learned):
    good = json.dumps(candidates_of(learned.outcomes(), 1)[0])
    plain = run_score(learned, [good])
    p = run_score(learned, [good, "{"], "--json")
    assert p.returncode == 1
    first, second = (json.loads(l) for l in p.stdout.splitlines())
    assert first == {"line": 1, "p": float(plain.stdout)}
    assert second["line"] == 2 and second["p"] is None and second["error"]


def test_score_without_a_committed_model_fails_and_says_why(tmp_path):
    r = Root(tmp_path / "fresh")
    p = run_score(r, ["{}"])
    assert p.returncode == 1
    assert "watch" in p.stderr
    assert p.stdout == ""


def test_score_help_and_unknown_arguments(learned):
    p = learned.run("score", "--help")
    assert "stdin" in p.stdout and "--json" in p.stdout and "--model current" in p.stdout
    assert learned.run("score", "--csv", check=False).returncode == 2
    p = learned.run("score", "--model", "latest", check=False)
    assert p.returncode == 2 and "current or online" in p.stderr
    assert learned.run("score", "--model", check=False).returncode == 2
    assert "score" in learned.run("--help").stdout


# ---- the deployed model: models/current.json ----------------------------------------


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """A real model learned from other trades: what a deployment would hold."""
    r = Root(tmp_path_factory.mktemp("other") / "root")
    r.run("simulate", "--days", 10, "--seed", 11)
    r.run("watch", "--once")
    return json.loads((r.path / "models" / "online.json").read_text())


def deploy(root, model, version):
    """Writes models/current.json as a deployment does: the model, its version
    and deploy time, replaced atomically."""
    current = dict(model, version=version, deployed_at="2026-03-08T06:00:12Z")
    tmp = root.path / "models" / "current.json.tmp"
    tmp.write_text(json.dumps(current, indent=2))
    os.replace(tmp, root.path / "models" / "current.json")


@pytest.fixture
def deployable(learned, tmp_path):
    """A copy of the learned root, to deploy models in."""
    r = Root(tmp_path / "root")
    shutil.copytree(learned.path, r.path, dirs_exist_ok=True)
    return r


def test_score_model_current_gives_what_the_readme_function_computes_from_current_json(
        deployable, other_model):
    cands = candidates_of(deployable.outcomes())
    deploy(deployable, other_model, "model_20260308_060012")
    p = run_score(deployable, [json.dumps(c) for c in cands], "--model", "current")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    online = run_score(deployable, [json.dumps(c) for c in cands], "--model", "online")
    assert online.stdout == run_score(deployable, [json.dumps(c) for c in cands]).stdout
    got = [float(x) for x in p.stdout.splitlines()]
    assert len(got) == len(cands)
    readme = readme_scorer()
    model = readme["load"](str(deployable.path / "models"))
    assert model["version"] == "model_20260308_060012"
    for c, value in zip(cands, got):
        assert value == pytest.approx(readme["score"](model, c), abs=1e-12, rel=0)
    # It is the deployed model that scored, not the online one.
    assert sum(a != float(b) for a, b in zip(got, online.stdout.splitlines())) > 100


def test_without_a_deployed_model_current_falls_back_to_online_and_says_so(deployable):
    cands = [json.dumps(c) for c in candidates_of(deployable.outcomes(), 20)]
    p = run_score(deployable, cands, "--model", "current")
    assert p.returncode == 0, p.stderr
    [line] = p.stderr.splitlines()
    assert "no model has been deployed" in line and "online model" in line
    assert p.stdout == run_score(deployable, cands).stdout
    # The README's loader falls back the same way.
    readme = readme_scorer()
    model = readme["load"](str(deployable.path / "models"))
    assert "version" not in model
    for c, value in zip(cands, p.stdout.splitlines()):
        assert float(value) == pytest.approx(readme["score"](model, json.loads(c)), abs=1e-12, rel=0)


def test_the_readme_loader_rereads_current_json_only_when_its_mtime_changes(deployable, other_model):
    models = str(deployable.path / "models")
    cands = [json.dumps(c) for c in candidates_of(deployable.outcomes(), 20)]
    readme = readme_scorer()
    first = readme["load"](models)  # no deployment yet: the online model
    assert "version" not in first
    deploy(deployable, other_model, "v1")
    second = readme["load"](models)
    assert second["version"] == "v1"
    assert readme["load"](models) is second  # unchanged: not read again
    # A rollback to the online model's weights, as version v2 (a newer mtime).
    online = json.loads((deployable.path / "models" / "online.json").read_text())
    deploy(deployable, online, "v2")
    st = os.stat(deployable.path / "models" / "current.json")
    os.utime(deployable.path / "models" / "current.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = readme["load"](models)
    assert third["version"] == "v2"
    p = run_score(deployable, cands, "--model", "current")
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == len(cands)
    for c, value in zip(cands, p.stdout.splitlines()):
        assert float(value) == pytest.approx(readme["score"](third, json.loads(c)), abs=1e-12, rel=0)


def test_a_damaged_current_json_is_refused_naming_the_problem(deployable, other_model):
    broken = {k: v for k, v in other_model.items() if k != "bias"}
    deploy(deployable, broken, "v1")
    p = run_score(deployable, ["{}"], "--model", "current")
    assert p.returncode == 1
    assert "current.json: bias" in p.stderr
    assert p.stdout == ""
    (deployable.path / "models" / "current.json").write_text('{"format": 2, ')
    p = run_score(deployable, ["{}"], "--model", "current")
    assert p.returncode == 1 and "current.json:1:" in p.stderr


# ---- status: the model's progressive scores ---------------------------------------


def test_status_json_has_the_calibration_tables_of_online_json(learned):
    st = json.loads(learned.run("status", "--json").stdout)["model"]
    metrics = json.loads((learned.path / "models" / "online.json").read_text())["metrics"]
    for table, window in ((st, False), (metrics, False), (st["window"], True),
                          (metrics["window"], True)):
        rows = table["calibration"]
        assert len(rows) == 10
        assert [r["range"] for r in rows] == [[b / 10, (b + 1) / 10] for b in range(10)]
        assert sum(r["trades"] for r in rows) == table["trades" if window else "trades_scored"]
        for r in rows:
            if r["trades"]:
                assert r["range"][0] <= r["mean_predicted"] <= r["range"][1]
                assert 0 <= r["observed_win_rate"] <= 1
            else:
                assert r["mean_predicted"] is None and r["observed_win_rate"] is None
    assert st["calibration"] == metrics["calibration"]
    assert st["window"]["calibration"] == metrics["window"]["calibration"]
    # the window's table is its own, not a copy of the all-trades one
    assert st["window"]["trades"] < st["trades_scored"]
    assert st["window"]["calibration"] != st["calibration"]


def test_status_prints_the_calibration_table(learned):
    out = learned.run("status").stdout
    assert re.search(r"^calibration\s+p\s+trades\s+mean p\s+win rate \| last \d+:", out, re.M)
    rows = re.findall(r"^\s+0\.\d-[01]\.\d\s+\d+", out, re.M)
    assert 1 <= len(rows) <= 10


def test_status_prints_n_a_for_figures_that_are_undefined(tmp_path):
    r = Root(tmp_path / "wins")
    # Wins only: log loss is defined, AUC is not (one class).
    lines = []
    for i in range(3):
        lines += [canonical_open(i), canonical_close(i, pnl=2.0)]
    (r.logs / "attribution.jsonl").write_text("".join(l + "\n" for l in lines))
    r.run("watch", "--once")
    st = json.loads(r.run("status", "--json").stdout)["model"]
    assert st["trades_scored"] == 3
    assert st["auc"] is None and st["log_loss"] is not None
    out = r.run("status").stdout
    model = next(l for l in out.splitlines() if l.startswith("model"))
    assert "AUC n/a" in model
    assert "AUC 0.0000" not in model
    assert re.search(r"log loss \d\.\d{4}", model)
    # No trades at all: every figure is n/a, and no table is printed.
    empty = Root(tmp_path / "empty")
    empty.run("watch", "--once")
    out = empty.run("status").stdout
    model = next(l for l in out.splitlines() if l.startswith("model"))
    assert "0.0000" not in model
    assert model.count("n/a") == 5
    assert "calibration" not in out
