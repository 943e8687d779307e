"""deploy/: the commands in the Dockerfile and the compose file are ones the CLI accepts, and every
setting the code, the mappings or the compose file reads is documented in the README's table.
(Docker itself cannot run here: docs/deploy.md says so.)"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def documented_settings() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Settings"):]
    table = table[:table.index("\n## ", 1)]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))


def test_compose_runs_the_service_the_worker_and_redis():
    services = COMPOSE["services"]
    assert set(services) == {"service", "worker", "redis"}
    for name in ("service", "worker"):
        assert services[name]["environment"]["UNIFIED_ENV"] == "production"
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert "redis" in services[name]["depends_on"]
    assert services["service"]["command"][:2] == ["unified-ticketing", "serve"]
    assert services["worker"]["command"][:2] == ["unified-ticketing", "worker"]


COMMANDS = {"compose service": COMPOSE["services"]["service"]["command"],
            "compose worker": COMPOSE["services"]["worker"]["command"],
            "Dockerfile CMD": json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1))}


@pytest.mark.parametrize("where", sorted(COMMANDS))
def test_deploy_commands_are_accepted_by_the_cli(where):
    """Run each command for real in production mode without secrets: it must get past argument
    parsing to the settings check (exit 2 naming the missing setting, not a usage error)."""
    command = COMMANDS[where]
    assert command[0] == "unified-ticketing"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNIFIED_", "REDIS_"))}
    done = subprocess.run([sys.executable, "-m", "unified_ticketing.cli", *command[1:]], capture_output=True,
                          text=True, timeout=60, env={**env, "UNIFIED_ENV": "production"})
    assert done.returncode == 2 and "usage:" not in done.stderr, done.stderr
    assert "REDIS_URL must be set in production" in done.stderr


def test_every_setting_is_documented_in_the_readme():
    code = "\n".join(p.read_text() for p in (ROOT / "unified_ticketing").rglob("*.py"))
    read = set(re.findall(r"""environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""", code))
    read |= set(re.findall(r"""\benv(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""", code))
    read |= set(re.findall(r"""["']([A-Z][A-Z0-9_]+)["'] in env\b""", code))
    for integration in (ROOT / "mappings").glob("*/integration.yaml"):
        read |= set(re.findall(r"\b(?:env|_env): ([A-Z][A-Z0-9_]+)", integration.read_text()))
    read |= set(COMPOSE["x-settings"])
    assert {"REDIS_URL", "UNIFIED_SECRET_KEY", "LIVECHAT_CLIENT_ID", "REDIS_CLUSTER"} <= read  # the scan works
    assert sorted(read - documented_settings()) == []
