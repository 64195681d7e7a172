"""A wheel built from the checkout carries the default model, and an installed package finds it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = ("transcript_qa.json", "heads.safetensors", "README.md", "metrics.json")


def _project_copy(dst: Path, with_model: bool = True) -> Path:
    """The files a build reads, copied, so that building leaves no build/ folder in the checkout."""
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dst / name)
    shutil.copytree(ROOT / "src", dst / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if with_model:
        shutil.copytree(ROOT / "models" / "default", dst / "models" / "default")
    return dst


def _build_wheel(project: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(project)], capture_output=True, text=True, timeout=300)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", minversion="77")
    tmp = tmp_path_factory.mktemp("wheel")
    (tmp / "project").mkdir()
    project = _project_copy(tmp / "project")
    r = _build_wheel(project, tmp / "dist")
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = (tmp / "dist").glob("transcript_qa-*.whl")
    return whl


def test_wheel_carries_the_default_model_byte_for_byte(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in MODEL_FILES:
            member = f"transcript_qa/models/default/{name}"
            assert member in names, f"{member} missing from {wheel.name}"
            assert _sha(z.read(member)) == _sha((ROOT / "models" / "default" / name).read_bytes())
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "no LICENSE in the wheel"


def test_installed_package_loads_its_own_default_model(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    code = ("import transcript_qa.analyzer as a; from transcript_qa import Analyzer; "
            "p = a.default_model_path(); Analyzer.load(); print(p)")
    env = {k: v for k, v in os.environ.items() if k != "TRANSCRIPT_QA_MODEL"}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert Path(r.stdout.strip()) == site / "transcript_qa" / "models" / "default"


def test_building_without_the_default_model_fails_and_says_so(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    project = _project_copy(tmp_path, with_model=False)
    r = _build_wheel(project, tmp_path / "dist")
    assert r.returncode != 0
    assert "models/default is missing" in r.stdout + r.stderr
    assert not list(tmp_path.glob("dist/*.whl"))
