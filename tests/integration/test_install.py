"""make install / make uninstall into a DESTDIR, and the unit file they install."""
import gzip
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import BIN, PROJECT

UNIT = PROJECT / "cmd" / "dist" / "tradelearn.service"
EXPECTED = {
    "usr/bin/tradelearn",
    "usr/share/man/man1/tradelearn.1.gz",
    "usr/lib/systemd/system/tradelearn.service",
    "usr/share/doc/tradelearn/examples/tradelearn.json",
}


def make(*args):
    flavour = ["SANITIZE=1"] if "/.build/san/" in BIN else []
    p = subprocess.run(["make", "--no-print-directory", "-s", *flavour, *args], cwd=PROJECT,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def files_under(top):
    return {str(p.relative_to(top)) for p in pathlib.Path(top).rglob("*") if not p.is_dir()}


def unit_settings(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    make("install", "PREFIX=/usr", f"DESTDIR={dest}")
    yield dest
    make("uninstall", "PREFIX=/usr", f"DESTDIR={dest}")


def test_install_puts_down_exactly_the_binary_the_man_page_the_unit_and_an_example_config(
        installed):
    assert files_under(installed) == EXPECTED
    assert os.access(installed / "usr/bin/tradelearn", os.X_OK)
    for f in EXPECTED - {"usr/bin/tradelearn"}:
        assert (installed / f).stat().st_mode & 0o777 == 0o644, f


def test_the_installed_binary_runs_and_reads_the_example_config(installed, tmp_path):
    exe = str(installed / "usr/bin/tradelearn")
    p = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and "0.1.0" in p.stdout + p.stderr
    config = installed / "usr/share/doc/tradelearn/examples/tradelearn.json"
    (tmp_path / "logs").mkdir()
    p = subprocess.run([exe, "--root", str(tmp_path), "--config", str(config), "status",
                        "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert '"profile": "stock-bot"' in p.stdout


def test_the_man_page_is_compressed_as_debian_does_and_reads_as_the_source(installed):
    page = installed / "usr/share/man/man1/tradelearn.1.gz"
    raw = page.read_bytes()
    # gzip -9n: no file name, no time stamp, maximum compression.
    assert raw[:2] == b"\x1f\x8b" and raw[3] & 0x08 == 0 and raw[4:8] == b"\0\0\0\0"
    assert raw[8] == 2
    assert gzip.decompress(raw) == (PROJECT / "cmd" / "tradelearn.1").read_bytes()
    if shutil.which("man"):
        p = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True,
                           env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80"})
        assert p.returncode == 0 and "tradelearn" in p.stdout


def test_the_installed_unit_starts_the_installed_binary_as_a_notify_service(installed):
    text = (installed / "usr/lib/systemd/system/tradelearn.service").read_text()
    assert text == UNIT.read_text().replace("/usr/local/bin/tradelearn", "/usr/bin/tradelearn")
    s = unit_settings(text)
    assert s["ExecStart"][0].startswith("/usr/bin/tradelearn --root /var/lib/tradelearn watch")
    assert s["Type"] == ["notify"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["RestartPreventExitStatus"] == ["75"]
    assert int(s["WatchdogSec"][0]) > 0
    assert s["ProtectSystem"] == ["strict"]
    assert "/var/lib/tradelearn" in s["ReadWritePaths"]
    assert s["ReadOnlyPaths"] == ["/srv/bot/logs"]
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert s[key] == ["yes"], key


def test_systemd_analyze_verify_passes_on_the_unit(installed, tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # verify checks that ExecStart= is executable: point it at the binary
    # installed in DESTDIR (the man page is not installed on this system).
    unit = tmp_path / "tradelearn.service"
    unit.write_text((installed / "usr/lib/systemd/system/tradelearn.service").read_text()
                    .replace("/usr/bin/tradelearn", str(installed / "usr/bin/tradelearn")))
    p = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stdout + p.stderr


def test_uninstall_removes_every_file_install_put_down(tmp_path):
    dest = tmp_path / "dest"
    make("install", "PREFIX=/usr", f"DESTDIR={dest}")
    assert files_under(dest) == EXPECTED
    (dest / "usr/bin/another-program").write_text("")
    make("uninstall", "PREFIX=/usr", f"DESTDIR={dest}")
    assert files_under(dest) == {"usr/bin/another-program"}
    assert not (dest / "usr/share/doc/tradelearn").exists()
