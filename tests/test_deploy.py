"""The systemd unit shipped in deploy/: the directives ops rely on, and `systemd-analyze verify`
where the tool exists (skipped elsewhere)."""
from __future__ import annotations

import re
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


def doc_section(heading: str) -> str:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n#", start + len(heading) + 2)
    return text[start:end if end != -1 else None]


def block_lines(text: str, lang: str) -> list[list[str]]:
    """Each ```lang block of text as its lines, blank ones and comments left out."""
    return [[re.sub(r"\s+# .*$", "", ln) for ln in block.split("\n```", 1)[0].splitlines()
             if ln.strip() and not ln.startswith("#")]
            for block in text.split(f"```{lang}\n")[1:]]


def test_install_steps_prepare_everything_the_unit_needs():
    """The install commands of docs/operations.md and of the unit's header, on a fresh machine:
    the user, the checkout, the venv holding ExecStart's program, the config, the data directory
    owned by the user, then `systemd-analyze verify`, then enable (checked by hand once in a
    scratch root: verify printed nothing)."""
    unit = directives()
    service = unit["Service"]
    [user], [workdir], [data] = service["User"], service["WorkingDirectory"], service["ReadWritePaths"]
    [command] = service["ExecStart"]
    program, config = command.split()[0], command.split("--config ", 1)[1].split()[0]
    assert program == f"{workdir}/.venv/bin/epaper" and config == f"{workdir}/epaper.toml"
    [doc_steps] = block_lines(doc_section("### As a service (systemd)"), "sh")
    header = [ln[len("#   "):] for ln in UNIT.read_text(encoding="utf-8").splitlines() if ln.startswith("#   ")]
    assert header == [s for s in doc_steps if not s.startswith("journalctl")]  # one list, written twice
    for steps in (doc_steps, header):
        def at(test) -> int:
            found = [i for i, s in enumerate(steps) if test(s)]
            assert found, steps
            return found[0]

        order = [
            at(lambda s: "useradd --system" in s and s.endswith(f" {user}")),
            at(lambda s: " git clone " in s and s.endswith(f" {workdir}")),
            at(lambda s: s.endswith(f"python3 -m venv {workdir}/.venv")),
            at(lambda s: s.startswith(f"sudo {workdir}/.venv/bin/pip install -e {workdir}")),
            at(lambda s: s.startswith("printf '[portal]\\nbase_url = ") and s.endswith(f"sudo tee {config}")),
            at(lambda s: f"mkdir -p {data}" in s and s.endswith(f"chown {user}:{user} {data}")),
            at(lambda s: s == f"sudo cp {workdir}/deploy/epaper.service /etc/systemd/system/"),
            at(lambda s: s == "sudo systemd-analyze verify /etc/systemd/system/epaper.service"),
            at(lambda s: s.endswith("systemctl enable --now epaper")),
        ]
        assert order == sorted(order)


def test_the_crontab_lines_run_at_the_schedules_time_in_its_zone():
    """`30 7 * * *` alone runs in the machine's zone: the docs give CRON_TZ, or the same instant
    written in UTC."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from epaper.config import ScheduleConfig

    minute, hour = ScheduleConfig.cron.split()[:2]
    zoned, utc = block_lines(doc_section("### From cron"), "cron")
    assert zoned[0] == f"CRON_TZ={ScheduleConfig.timezone}" and zoned[1].startswith(f"{minute} {hour} * * * ")
    at = datetime(2026, 1, 1, int(hour), int(minute), tzinfo=ZoneInfo(ScheduleConfig.timezone))
    in_utc = at.astimezone(ZoneInfo("UTC"))
    assert at.utcoffset() == datetime(2026, 7, 1, tzinfo=ZoneInfo(ScheduleConfig.timezone)).utcoffset()  # no DST
    assert utc[0].startswith(f"{in_utc.minute} {in_utc.hour} * * * ")
    assert utc[0].split(None, 5)[5] == zoned[1].split(None, 5)[5]  # the same command
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"CRON_TZ={ScheduleConfig.timezone}\n{zoned[1]}" in readme
    assert f"`{in_utc.minute} {in_utc.hour} * * *`" in readme
