"""A wheel that runs: built from a copy of the repository, installed into a fresh venv and started from an empty
folder, with no way to reach the source tree, it serves the mappings and the contract it carries."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import requests

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import connect_pat, new_tenant
from tests.ops.conftest import Serve, service_env

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "openapi.yaml", "mappings", "unified_ticketing")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv's folder; the project's dependencies come from this venv's site-packages (a .pth file), the
    project itself only from the wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    shutil.rmtree(src)  # nothing of the copy remains to be read
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((tmp / "dist").glob("unified_ticketing-*.whl"))
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return venv


def clean_env(**extra: str) -> dict:
    return {k: v for k, v in {**os.environ, **extra}.items() if k not in ("PYTHONPATH", "UNIFIED_MAPPINGS_DIR")}


def test_the_installed_package_carries_its_files(installed, tmp_path):
    done = subprocess.run([installed / "bin" / "python", "-c", "import unified_ticketing.config as c, "
                           "unified_ticketing.api.docs as d; print(c.DEFAULT_MAPPINGS); print(d.SPEC)"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60, check=True)
    mappings, spec = (Path(line) for line in done.stdout.split())
    assert mappings.is_relative_to(installed) and spec.is_relative_to(installed), done.stdout
    assert sorted(p.name for p in mappings.iterdir()) == sorted(p.name for p in (ROOT / "mappings").iterdir())
    assert spec.read_text() == (ROOT / "openapi.yaml").read_text()
    version = subprocess.run([installed / "bin" / "unified-ticketing", "--version"], cwd=tmp_path, env=clean_env(),
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == "unified-ticketing 0.1.0", version.stdout + version.stderr


def test_the_wheel_serves_from_an_empty_folder(installed, tmp_path, redis_server_url):
    sandbox = start_sandbox("--chats", "12", "--seed", "41")
    serve = None
    try:
        serve = Serve(clean_env(**service_env(sandbox, redis_server_url)), workers=1,
                      cli=[str(installed / "bin" / "unified-ticketing")], cwd=str(tmp_path))
        ready = requests.get(serve.base + "/readyz", timeout=10).json()
        assert ready["checks"]["mappings"] == sorted(p.name for p in (ROOT / "mappings").iterdir()), ready
        assert requests.get(serve.base + "/openapi.yaml", timeout=10).text == (ROOT / "openapi.yaml").read_text()
        client = new_tenant(serve.base, "wheel-co")
        account = connect_pat(client, sandbox)
        tickets = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=3)
        assert tickets.status_code == 200, tickets.text
        assert len(tickets.json()["result"]) == 3
    finally:
        if serve:
            serve.stop()
        sandbox.stop()


def test_the_docker_image_builds_the_wheel_from_the_same_files():
    """The image installs the wheel; its build stage copies what the wheel above was built from."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    build_stage = dockerfile.split("\nFROM ")[1]
    copied = {name for line in build_stage.splitlines() if line.startswith("COPY ")
              for name in line.split()[1:-1]}
    assert copied == set(SOURCES)
    assert "pip install /dist/*.whl" in dockerfile and "pip install -e" not in dockerfile
