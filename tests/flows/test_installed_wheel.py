"""The distribution as a user gets it: a wheel in a fresh venv, run from a project with its own flows/.

hopflow installs one top-level import name, `hopflow`; a Prefect project's own `flows/`, `models/`
and `tasks.py` keep working beside it, and `hopflow demo` runs from an empty folder (package data).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.flows, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    (path,) = out.glob("hopflow-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; its dependencies come from this venv's site-packages
    (a .pth line, which does not run this venv's editable-install hook), so no index is needed."""
    path = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    site = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", site, str(wheel)],
        check=True,
        timeout=300,
    )
    return path


def test_wheel_installs_only_the_hopflow_import_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        names = zf.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"hopflow"}
    # what the demo and the database need ships inside it
    assert "hopflow/examples/missions/sales_report.yaml" in names
    assert "hopflow/examples/data/sales.csv" in names
    assert any(n.startswith("hopflow/models/migrations/versions/0001_") for n in names)


def test_every_source_package_is_in_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n for n in zf.namelist() if n.endswith("__init__.py")}
    for folder in ("models", "tasks", "flows", "deployments"):
        for init in (ROOT / folder).rglob("__init__.py"):
            if "versions" in init.parts:
                continue
            assert f"hopflow/{init.relative_to(ROOT).as_posix()}" in shipped, (
                f"{init.parent.relative_to(ROOT)} is missing from pyproject's [tool.setuptools] packages"
            )


def test_a_project_with_its_own_flows_models_and_tasks_runs_the_demo(
    venv: Path, tmp_path: Path, prefect_api: str
) -> None:
    project = tmp_path / "project"
    for pkg in ("flows", "models"):
        (project / pkg).mkdir(parents=True)
        (project / pkg / "__init__.py").write_text(f"OWNER = 'user {pkg}'\n")
    (project / "tasks.py").write_text("OWNER = 'user tasks'\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOPFLOW_", "PREFECT_")) and k != "PYTHONPATH"
    }
    env |= {
        "PYTHONPATH": str(project),  # the user's modules first on sys.path
        "PREFECT_API_URL": prefect_api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "HOPFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'hopflow.db'}",
        "HOPFLOW_LOGS": str(tmp_path / "logs"),
        "HOPFLOW_DATA": str(tmp_path / "data"),
        "HOPFLOW_UPLOADS": str(tmp_path / "uploads"),
        "COLUMNS": "120",
    }
    python = str(venv / "bin" / "python")
    probe = subprocess.run(
        [
            python,
            "-c",
            "import flows, models, tasks, hopflow.flows.mission, hopflow.models.orm, hopflow.tasks.steps; "
            "print(flows.OWNER, models.OWNER, tasks.OWNER, hopflow.flows.mission.__file__)",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("user flows user models user tasks ")
    assert str(venv) in probe.stdout  # hopflow came from the wheel, not from this checkout

    empty = tmp_path / "empty"
    empty.mkdir()
    db = subprocess.run(
        [python, "-m", "hopflow.deployments.cli", "db", "upgrade"], cwd=empty, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert db.returncode == 0, db.stderr
    demo = subprocess.run(
        [python, "-m", "hopflow.deployments.cli", "demo"], cwd=empty, env=env,
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "mission sales-report completed" in " ".join(demo.stdout.split())
    assert "# Sales report" in demo.stdout or "Sales report" in demo.stdout
