"""The sandboxes are their own package (sandboxes/, `helpdesk_sandboxes`): the product's wheel leaves them out,
its CLI imports them only for `sandbox` and `dev`, and says what to install when they are missing."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*argv: str, block_sandboxes: bool = False) -> subprocess.CompletedProcess:
    """`unified-ticketing ARGV` in a fresh interpreter; prints, last, whether helpdesk_sandboxes was imported.
    `block_sandboxes`: as if the package were not installed (None in sys.modules makes its import fail)."""
    block = "sys.modules['helpdesk_sandboxes'] = None\n" if block_sandboxes else ""
    code = ("import sys\n" + block +
            "from unified_ticketing.cli import main\n"
            "try:\n"
            f"    status = main({list(argv)!r})\n"
            "except SystemExit as exc:\n"
            "    status = exc.code\n"
            "print('imported:', sys.modules.get('helpdesk_sandboxes') is not None, flush=True)\n"
            "sys.exit(status)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_product_commands_do_not_import_the_sandboxes():
    for argv in (["--help"], ["serve", "--help"], ["api-keys", "--help"]):
        done = run_cli(*argv)
        assert done.returncode == 0, done.stderr
        assert done.stdout.rstrip().endswith("imported: False"), (argv, done.stdout)
    listed = run_cli("--help").stdout
    assert "sandbox" in listed and "dev" in listed and "make run" in listed  # still offered


def test_sandbox_commands_come_from_the_package():
    done = run_cli("sandbox", "--help")
    assert done.returncode == 0, done.stderr
    assert "--integration {livechat,rocketchat}" in done.stdout and "--ready-file" in done.stdout
    assert done.stdout.rstrip().endswith("imported: True")
    assert "--service-port" in run_cli("dev", "--help").stdout


def test_sandbox_commands_without_the_package_say_what_to_install():
    for command in ("sandbox", "dev"):
        done = run_cli(command, "--port", "0", block_sandboxes=True)
        assert done.returncode == 2, done.stdout
        assert f"unified-ticketing {command}: the sandboxes are not installed" in done.stderr
        assert "pip install -e ./sandboxes" in done.stderr
        assert "Traceback" not in done.stderr
    assert "unified-ticketing sandbox: error: unrecognized arguments: --bogus" in run_cli("sandbox", "--bogus").stderr
    assert run_cli("--help", block_sandboxes=True).returncode == 0  # the product works without them


def test_the_product_wheel_leaves_the_sandboxes_out(tmp_path):
    """Both projects built from a copy of the repository: the sandboxes are in their own wheel only."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "tests", "bench", "__pycache__",
                                                              "*.egg-info", "build", ".*cache"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(src), str(src / "sandboxes")],
                   check=True, capture_output=True, timeout=300)
    product = zipfile.ZipFile(next(dist.glob("unified_ticketing-*.whl"))).namelist()
    sandboxes = zipfile.ZipFile(next(dist.glob("unified_ticketing_sandboxes-*.whl")))
    assert "unified_ticketing/cli.py" in product
    assert not [n for n in product if n.startswith("helpdesk_sandboxes/") or "/sandbox/" in n]
    assert {"helpdesk_sandboxes/livechat/app.py", "helpdesk_sandboxes/rocketchat/app.py",
            "helpdesk_sandboxes/cli.py"} <= set(sandboxes.namelist())
    metadata = next(n for n in sandboxes.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [line for line in sandboxes.read(metadata).decode().splitlines() if line.startswith("Requires-Dist")]
    assert any("flask" in line for line in requires) and not any("unified-ticketing" in line for line in requires)
