"""careflow as a care team installs it: a wheel in a fresh virtual environment, far from
the checkout, running from an operator project that `careflow init` wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.runtime.test_careflow_up import Up

REPOSITORY = Path(__file__).resolve().parents[2]


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this checkout, as `pip wheel .` builds it for a release."""
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, REPOSITORY, cwd=out)
    (built,) = out.glob("careflow-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin/` folder of a fresh virtual environment with careflow[embedded] installed."""
    environment = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=True).create(environment)
    _run(
        environment / "bin" / "python",
        "-m",
        "pip",
        "install",
        "-q",
        f"careflow[embedded] @ {wheel.as_uri()}",
        cwd=environment,
    )
    return environment / "bin"


def test_the_wheel_installs_only_careflow_and_carries_its_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"careflow"}
    # The journeys' templates and the operator files travel as package data.
    assert "careflow/templates/email/complaint_ack/subject.zh-CN.j2" in names
    assert "careflow/rules/journeys.yaml" in names
    # The console's charts run offline: the chart library ships inside, with its licence.
    assert "careflow/console/static/echarts/echarts.common.min.js" in names
    assert "careflow/console/static/echarts/LICENSE" in names
    assert "careflow/console/static/charts.js" in names
    assert "careflow/demo/data/history/orders.csv" in names
    assert "careflow/store/migrations/versions/0001_initial_schema.py" in names
    # Links in the checkout become real files, never links to a checkout that is not there.
    assert "careflow/workflows/complaint_escalation.py" in names


def _start_up(careflow: Path, project: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (project / "up.log").open("ab")
    return subprocess.Popen(
        [str(careflow), "up"], cwd=project, env=env, stdout=log, stderr=log, start_new_session=True
    )


@pytest.mark.timeout(600)
async def test_an_installed_wheel_acknowledges_a_complaint_from_an_operator_project(
    installed: Path, tmp_path: Path
) -> None:
    project = tmp_path / "care-team"
    project.mkdir()
    clean_env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV") and not key.startswith("CAREFLOW_")
    }
    careflow = installed / "careflow"
    version = _run(careflow, "--version", cwd=project, env=clean_env)
    assert version.startswith("careflow ")

    _run(careflow, "init", ".", cwd=project, env=clean_env)
    assert (project / "rules" / "journeys.yaml").is_file()
    assert "rules/journeys.yaml" in (project / "README.md").read_text()
    # The team's own wording: the acknowledgement must come from the project's template,
    # not from the copy inside the package.
    subject = project / "templates" / "email" / "complaint_ack" / "subject.en.j2"
    subject.write_text("[Care team] " + subject.read_text())

    (project / "customers.csv").write_text(
        "customer_id,name,email,locale,timezone\nw-001,Ada Wheel,ada@example.com,en,Europe/London\n"
    )
    runtime = Up(project / "var")
    env = {**clean_env, **{k: v for k, v in runtime.env.items() if k.startswith("CAREFLOW_")}}
    _run(careflow, "import", "customers", "customers.csv", cwd=project, env=env)

    runtime.process = _start_up(careflow, project, env)
    try:
        await runtime.wait_for_api()
        await runtime.post_event(
            {
                "type": "complaint_opened",
                "customer_id": "w-001",
                "occurred_at": datetime.now(UTC).isoformat(),
                "data": {"complaint_id": "wheel-k1", "severity": "low", "subject": "Late"},
            }
        )
        message = await runtime.wait_for_subject("[Care team]", within_seconds=120)
        assert message["To"] == "ada@example.com"
        assert runtime.stop() == 0
    finally:
        if runtime.process.poll() is None:
            runtime.process.kill()
            runtime.process.wait()
    # The installed code ran, not this checkout's.
    assert str(REPOSITORY) not in (project / "up.log").read_text(errors="replace")
