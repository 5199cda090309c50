"""tradelearn models: versions, deploy by hand, rollback, retention, bundles, crashes."""
import io
import json
import os
import random
import signal
import subprocess
import tarfile
import time

from conftest import append, canonical_close, canonical_open
from modeltools import bundle_members, bundle_of, registry, retrain, simulated_root


def snapshot(path, skip=()):
    """Every file under path with its bytes and mtime, folders skipped."""
    out = {}
    for dirpath, _, files in os.walk(path):
        if any(dirpath.startswith(str(path / s)) for s in skip):
            continue
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            with open(p, "rb") as fh:
                out[p] = (fh.read(), st.st_mtime_ns)
    return out


def test_rollback_restores_the_previous_current_json_byte_for_byte(tmp_path):
    r, _ = simulated_root(tmp_path, days=30, seed=4)
    first = retrain(r, "--force")["version"]
    current = r.path / "models" / "current.json"
    before = current.read_bytes()
    second = retrain(r, "--force")["version"]  # the same model, rejected
    assert current.read_bytes() == before
    p = r.run("models", "deploy", second)
    assert f"deployed {second} by hand, the gate bypassed; it replaces {first}" in p.stdout
    assert json.loads(current.read_text())["version"] == second
    assert current.read_bytes() != before
    base = json.loads((r.state / "baseline_performance.json").read_text())
    assert base["version"] == second and "deploy by hand" in base["source"]

    p = r.run("models", "rollback")
    assert f"rolled back from {second} to {first}" in p.stdout
    assert current.read_bytes() == before
    versions = {v["id"]: v for v in registry(r)["versions"]}
    assert (versions[first]["status"], versions[first]["decided_by"]) == ("deployed", "rollback")
    assert (versions[second]["status"], versions[second]["decided_by"]) == ("rolled_back", "rollback")
    assert "gate bypassed" not in versions[first]["reason"]
    # The baseline names a new deployment: the drift detector starts afresh.
    base2 = json.loads((r.state / "baseline_performance.json").read_text())
    assert base2["version"] == first and base2["deployment"] != base["deployment"]
    # Nothing earlier is left to roll back to: said, exit 1, nothing changed.
    p = r.run("models", "rollback", check=False)
    assert p.returncode == 1 and "roll back to" in p.stderr
    assert current.read_bytes() == before
    # By id, to a version deployed before.
    r.run("models", "rollback", second)
    assert json.loads(current.read_text())["version"] == second


def test_models_list_show_and_status_tell_the_versions_and_the_decision(tmp_path):
    r, _ = simulated_root(tmp_path, days=30, seed=4)
    first = retrain(r, "--force")
    second = retrain(r, "--force")
    listed = json.loads(r.run("models", "list", "--json").stdout)
    assert [v["id"] for v in listed] == [first["version"], second["version"]]
    assert [v["status"] for v in listed] == ["deployed", "rejected"]
    chosen = first["figures"]["chosen"]
    assert listed[0]["auc"] == first["figures"]["candidates"][chosen]["auc"]
    assert listed[0]["taken_sharpe"] == first["figures"]["candidates"][chosen]["taken"]["sharpe"]
    text = r.run("models", "list").stdout
    assert first["version"] in text and "deployed" in text and "rejected" in text

    shown = json.loads(r.run("models", "show", first["version"], "--json").stdout)
    assert shown["checksums_verified"] is True
    assert [m["name"] for m in shown["manifest"]["members"]] == ["model.json", "metrics.json"]
    assert shown["metrics"]["figures"] == first["figures"]
    text = r.run("models", "show", first["version"]).stdout
    assert "every checksum verified" in text and "log_loss below 1 × the base rate's" in text

    st = json.loads(r.run("status", "--json").stdout)
    assert st["deployed_model"]["version"] == first["version"]
    assert st["deployed_model"]["by"] == "gate"
    assert st["last_retrain"]["decision"] == "reject"
    assert st["last_retrain"]["version"] == second["version"]
    text = r.run("status").stdout
    assert f"deployed {first['version']} since" in text
    assert f"retrain  reject at {second['time']} of {second['version']}" in text


def test_retention_keeps_the_newest_bundles_and_every_version_ever_deployed(tmp_path):
    r, _ = simulated_root(tmp_path, days=20, seed=6,
                          config={"retrain": {"keep_bundles": 3, "min_interval_hours": 0}})
    ids = [retrain(r, "--force")["version"] for _ in range(6)]
    reg = registry(r)
    assert reg["deployed"] == ids[0]
    kept = sorted(p.name for p in (r.path / "models").glob("*.tar.zst"))
    assert kept == sorted(f"{i}.tar.zst" for i in [ids[0]] + ids[3:])
    for v in reg["versions"]:
        assert (v["bundle"] is None) == (v["id"] in ids[1:3])
    p = r.run("models", "show", ids[1], check=False)
    assert p.returncode == 1 and "removed by retention" in p.stderr


def test_models_show_refuses_a_tampered_bundle_and_writes_nothing(tmp_path):
    r, _ = simulated_root(tmp_path, days=20, seed=6)
    version = retrain(r, "--force")["version"]
    path = bundle_of(r, version)
    members = bundle_members(path)
    # model.json changed after the manifest was written: one weight moved.
    model = json.loads(members["model.json"])
    model["bias"] += 1.0
    members["model.json"] = json.dumps(model).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in ("manifest.json", "model.json", "metrics.json"):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            t.addfile(info, io.BytesIO(members[name]))
    path.write_bytes(subprocess.run(["zstd", "-q", "-c"], input=buf.getvalue(),
                                    capture_output=True, check=True).stdout)
    before = snapshot(r.path)
    p = r.run("models", "show", version, check=False)
    assert p.returncode == 1
    assert "member model.json" in p.stderr and "refused" in p.stderr
    assert snapshot(r.path) == before

    # A member that would land outside models/ when extracted: refused, nothing written.
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in ("manifest.json", "../../state/escaped.json"):
            info = tarfile.TarInfo(name)
            info.size = 2
            t.addfile(info, io.BytesIO(b"{}"))
    path.write_bytes(subprocess.run(["zstd", "-q", "-c"], input=evil.getvalue(),
                                    capture_output=True, check=True).stdout)
    before = snapshot(r.path)
    p = r.run("models", "show", version, check=False)
    assert p.returncode == 1 and "refused" in p.stderr
    assert snapshot(r.path) == before
    assert not (r.state / "escaped.json").exists()
    # Nor can it be deployed.
    p = r.run("models", "rollback", version, check=False)
    assert p.returncode == 1


def consistent(r):
    """What a finished (or recovered) root holds: registry, current.json,
    bundles and log agree."""
    models = r.path / "models"
    reg = registry(r)
    assert not (models / ".candidate").exists()
    assert not [p for p in models.iterdir() if ".tmp." in p.name]
    on_disk = sorted(p.name for p in models.glob("*.tar.zst"))
    named = sorted(v["bundle"] for v in reg["versions"] if v["bundle"])
    assert on_disk == named
    if reg["deployed"]:
        current = json.loads((models / "current.json").read_text())
        v = [v for v in reg["versions"] if v["id"] == reg["deployed"]][0]
        assert (current["version"], current["deployed_at"]) == (v["id"], v["deployed_at"])
        model = json.loads(bundle_members(models / v["bundle"])["model.json"])
        assert {k: x for k, x in current.items() if k not in ("version", "deployed_at")} == model
        base = json.loads((r.state / "baseline_performance.json").read_text())
        assert base["deployment"] == reg["deployments"][-1]["id"]
    if reg["last_decision"]:
        last = (r.state / "retrain_log.jsonl").read_text().splitlines()[-1]
        assert json.loads(last) == reg["last_decision"]
    return reg


def test_kill_9_at_random_moments_of_retrains_leaves_registry_and_current_json_before_or_after(tmp_path):
    r, _ = simulated_root(tmp_path, days=30, seed=8,
                          config={"retrain": {"keep_bundles": 4, "min_interval_hours": 0}})
    models = r.path / "models"
    t0 = time.monotonic()
    retrain(r, "--force")
    duration = time.monotonic() - t0
    rng = random.Random(20261207)
    kills = interrupted = 0
    for i in range(60):
        if kills >= 30:
            break
        reg_before = (models / "registry.json").read_bytes()
        cur_before = (models / "current.json").read_bytes()
        n_before = len(json.loads(reg_before)["versions"])
        # Alternately a retrain and a deploy by hand or rollback (mostly writes).
        if i % 3 == 2:
            ids = [v["id"] for v in json.loads(reg_before)["versions"] if v["bundle"]]
            args = ["models", "deploy", rng.choice(ids[:-1] or ids)] if i % 2 \
                else ["models", "rollback"]
        else:
            args = ["retrain", "--force"]
        p = subprocess.Popen(r.args(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Most kills near the end of a run, where the files are written.
        time.sleep(duration * rng.choice([rng.uniform(0, 1), rng.uniform(0.7, 1.1)])
                   if args[0] == "retrain" else rng.uniform(0, 0.01))
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += p.returncode == -signal.SIGKILL
        # Right after the kill: each file is whole, and either as before or as after.
        reg_text = (models / "registry.json").read_bytes()
        reg = json.loads(reg_text)
        cur = (models / "current.json").read_bytes()
        if args[0] == "retrain":
            assert reg_text == reg_before or len(reg["versions"]) == n_before + 1
        if reg_text == reg_before:
            assert cur == cur_before
        else:
            c = json.loads(cur)
            if c["version"] != reg["deployed"]:
                interrupted += 1  # the registry moved, current.json not yet
                assert cur == cur_before
        if (models / ".candidate").exists():
            interrupted += 1
        # A restart finishes or discards what the kill left.
        r.run("models", "list")
        consistent(r)
    print(f"{kills} kills, {interrupted} of them between two writes; "
          f"{len(registry(r)['versions'])} versions")
    assert kills >= 20


def test_a_half_made_candidate_is_discarded_and_a_recorded_one_finished_on_restart(tmp_path):
    r, _ = simulated_root(tmp_path, days=20, seed=6)
    first = retrain(r, "--force")
    models = r.path / "models"
    # A bundle written, the registry not yet: what a kill between steps 2 and 3 leaves.
    orphan = models / "model_20990101_000000.tar.zst"
    orphan.write_bytes(bundle_of(r, first["version"]).read_bytes())
    (models / ".candidate").write_text(json.dumps(
        {"version": "model_20990101_000000", "bundle": orphan.name, "event": {"event": "deploy"}}))
    (models / "registry.json.tmp.999999").write_text("{half")
    p = r.run("models", "list")
    assert "discarded the candidate model_20990101_000000" in p.stderr
    assert not orphan.exists() and not (models / "registry.json.tmp.999999").exists()
    consistent(r)
    # Recorded, but killed before current.json, the baseline and the log: finished.
    second = retrain(r, "--force")
    (models / "current.json").unlink()
    log = r.state / "retrain_log.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # and a torn last line
    (models / ".candidate").write_text(json.dumps(
        {"version": second["version"], "bundle": f"{second['version']}.tar.zst",
         "event": second}))
    p = r.run("models", "list")
    assert "finished recording the retrain decision reject" in p.stderr
    assert json.loads(log.read_text().splitlines()[-1]) == second
    assert len(log.read_text().splitlines()) == len(lines)
    consistent(r)


def test_another_models_command_holding_the_lock_exits_75(tmp_path):
    import fcntl
    r, _ = simulated_root(tmp_path, days=10, seed=6)
    (r.path / "models").mkdir(exist_ok=True)
    with open(r.path / "models" / ".lock", "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        p = r.run("retrain", "--force", check=False)
        assert p.returncode == 75 and ".lock is held" in p.stderr
        p = r.run("models", "rollback", check=False)
        assert p.returncode == 75
        # Reading is never blocked.
        assert r.run("models", "list").returncode == 0
        assert r.run("retrain", "--dry-run").returncode == 0


def test_a_deployment_resets_the_drift_detector_at_the_next_commit(tmp_path):
    r, _ = simulated_root(tmp_path, days=20, seed=6)

    def learned():
        st = r.state_json()
        doc = json.loads((r.state / st["learner_file"]).read_text())
        return doc["learner"]["progress"]["drift"]["n"], doc.get("deployment")
    n, seen = learned()
    assert n > 100 and seen == ""
    event = retrain(r, "--force")
    assert event["event"] == "deploy"
    base = json.loads((r.state / "baseline_performance.json").read_text())
    # Until watch commits again, the learned state still measures the old model.
    assert learned() == (n, "")
    att = r.logs / "attribution.jsonl"
    append(att, canonical_open(900001, ts="2026-03-01T15:00:00Z") + "\n" +
           canonical_close(900001, pnl=1.0, ts="2026-03-01T15:30:00Z") + "\n")
    p = r.run("watch", "--once", "--verbose")
    assert "the drift detector starts afresh" in p.stderr
    assert learned() == (1, base["deployment"])
    # Once only: the next commit keeps counting.
    append(att, canonical_open(900002, ts="2026-03-01T16:00:00Z") + "\n" +
           canonical_close(900002, pnl=1.0, ts="2026-03-01T16:30:00Z") + "\n")
    r.run("watch", "--once")
    assert learned() == (2, base["deployment"])


def test_the_deploy_and_reject_hooks_receive_the_decision_and_a_missing_one_is_not_fatal(tmp_path):
    from test_hooks import events, recording_hook
    got = tmp_path / "events"
    r, _ = simulated_root(tmp_path, days=20, seed=6, config={"hooks": {
        "deploy": recording_hook(got), "reject": recording_hook(got)}})
    first = retrain(r, "--force")
    second = retrain(r, "--force")
    r.run("models", "deploy", second["version"])
    r.run("models", "rollback")
    evs = events(got)
    assert [(e["event"], e["version"], e["decided_by"]) for e in evs] == [
        ("deploy", first["version"], "gate"), ("reject", second["version"], "gate"),
        ("deploy", second["version"], "deploy by hand"), ("deploy", first["version"], "rollback")]
    # What retrain_log.jsonl records, as the hook gets it.
    assert evs[0]["decision"] == "deploy" and evs[0]["reasons"] == first["reasons"]
    assert evs[0]["figures"] == first["figures"] and evs[1]["reasons"] == second["reasons"]
    assert evs[0]["text"].startswith(f"deploy {first['version']} (")
    assert evs[3]["figures"] == registry(r)["versions"][0]["metrics"]
    runs = [j for j in (json.loads(line) for line in
                        (r.state / "jobs.jsonl").read_text().splitlines())
            if j["job"].startswith("hook:")]
    assert [j["job"] for j in runs] == ["hook:deploy", "hook:reject", "hook:deploy", "hook:deploy"]
    assert all(j["status"] == "ok" for j in runs)
    # A hook that does not exist is journaled; the retrain still decides, exit 0.
    (r.path / "tradelearn.json").write_text(json.dumps(
        {"hooks": {"reject": ["/nonexistent/alert"]}, "retrain": {"min_interval_hours": 0}}))
    third = retrain(r, "--force")
    assert third["event"] == "reject"
    last = json.loads((r.state / "jobs.jsonl").read_text().splitlines()[-1])
    assert (last["job"], last["status"]) == ("hook:reject", "missing")
