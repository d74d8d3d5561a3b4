"""The systemd unit shipped in deploy/: the directives ops rely on, and `systemd-analyze verify`
where the tool exists (skipped elsewhere)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "epaper.service"


def directives() -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_unit_directives():
    unit = directives()
    assert unit["Unit"]["Wants"] == ["network-online.target"]
    assert "network-online.target" in unit["Unit"]["After"][0]
    service = unit["Service"]
    assert service["User"] == ["epaper"]
    assert service["Restart"] == ["on-failure"] and service["RestartSec"]
    # SIGTERM to the scheduler only: it stops the crawl in flight with one signal
    assert service["KillMode"] == ["mixed"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["NoNewPrivileges"] == ["yes"] and service["PrivateTmp"] == ["yes"]
    [command] = service["ExecStart"]
    data = command.split("--data ", 1)[1].split()[0]
    assert service["ReadWritePaths"] == [data]  # the archive is the one writable place
    assert service["StandardOutput"] == ["journal"] and service["StandardError"] == ["journal"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_verifies(tmp_path: Path):
    # The unit's paths moved under tmp_path, with a stand-in for the venv's epaper, so that
    # verify checks the unit and not this machine's /srv.
    srv = tmp_path / "srv"
    (srv / ".venv" / "bin").mkdir(parents=True)
    (srv / "data").mkdir()
    stub = srv / ".venv" / "bin" / "epaper"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit = tmp_path / "epaper.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/srv/epaper", str(srv)), encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True,
                            text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values, only warning: any output is a failure
    assert (result.returncode, result.stderr.strip(), result.stdout.strip()) == (0, "", "")
