"""The README's walk-through, run as printed against `unified-ticketing dev` (what `make run` starts).

The commands are read from the README's `<!-- walkthrough -->` block, so the README and this test
cannot drift: a new step there fails here until the test knows what it should show.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.ops.conftest import CLI, free_port, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"
CHATS = 40


def walkthrough() -> list[str]:
    """The block's commands in order (comments and blank lines left out)."""
    text = README.read_text()
    block = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no <!-- walkthrough --> sh block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def is_setup(line: str) -> bool:
    """Lines that set up the shell (run again before every later command, as a terminal keeps them)."""
    return line.startswith((". ", "eval ")) or re.match(r"[A-Z_]+=\$\(", line) is not None


class Lines:
    """A child's output lines, collected as they come."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.lines = proc, []
        threading.Thread(target=lambda: self.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        def found():
            return next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)

        try:
            return wait_until(lambda: found() or (self.proc.poll() is not None and found()), timeout, pattern)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; output so far:\n{''.join(self.lines)}") from None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(30)
        self.proc.stdout.close()
        return code


def mcp_tools_and_search(command: list[str], env: dict, cwd: Path):
    async def run():
        params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(cwd))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = sorted(t.name for t in (await session.list_tools()).tools)
            found = await session.call_tool("search_tickets", {"limit": 2})
            return tools, found

    return asyncio.run(run())


def test_the_readme_walkthrough_works_as_printed_against_make_runs_stack(tmp_path):
    steps = walkthrough()
    home = tmp_path / "checkout"  # a folder like the repository's: its .venv, nothing else
    home.mkdir()
    assert (Path(sys.prefix) / "bin" / "activate").exists(), "the tests run in the venv `make` installs"
    (home / ".venv").symlink_to(sys.prefix)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "VIRTUAL_ENV")}
    env.update(UNIFIED_DATA_DIR=str(tmp_path / "data"), UNIFIED_LOG_LEVEL="WARNING")
    dev = Lines(subprocess.Popen([*CLI, "dev", "--port", "0", "--chats", str(CHATS), "--rooms", "30",
                                  "--service-port", str(free_port())], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env))
    setup, background = [], []
    try:
        dev.wait_for("Press Ctrl-C", 180)

        def shell(line: str) -> list[str]:
            return ["bash", "-c", "set -e\n" + "\n".join([*setup, "exec " + line if not is_setup(line) else line])]

        said, checked = {}, set()
        listen = None
        for line in steps:
            if is_setup(line):
                setup.append(line)
                continue
            if line.startswith("unified-ticketing events listen"):
                listen = Lines(subprocess.Popen(shell(line), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                text=True, env=env, cwd=home))
                background.append(listen)
                listen.wait_for("Listening for")
                checked.add("events")
                continue
            if line.startswith("unified-ticketing mcp"):
                tools, found = mcp_tools_and_search(shell(line), env, home)
                assert {"search_tickets", "get_ticket_transcript", "list_contact_tickets", "reply"} <= set(tools)
                assert not found.is_error and len(found.structured_content["result"]) == 2, found
                checked.add("mcp")
                continue
            ran = subprocess.run(shell(line), capture_output=True, text=True, env=env, cwd=home, timeout=180)
            assert ran.returncode == 0, (line, ran.stdout, ran.stderr)
            if line.startswith('curl -s "$UT_API/unified/ticketing/tickets'):
                tickets = json.loads(ran.stdout)["result"]
                assert len(tickets) == 3 and all(t["id"] and t["status"] in ("open", "closed") for t in tickets)
                checked.add("list")
            elif line.startswith("unified-ticketing sandbox say"):
                integration = re.search(r"--integration (\w+)", line).group(1)
                said[integration] = re.search(r"wrote into ticket (\S+)", ran.stdout).group(1)
                text = re.search(r'"([^"]+)"\s*$', line).group(1)
                listen.wait_for(rf"ticket:created\s+ticket {said[integration]}\s")
                listen.wait_for(rf"comment:created\s+ticket {said[integration]}\s+contact: {re.escape(text)}")
                checked.add(f"say {integration}")
            elif "/unified/ticketing/comments" in line and "-X POST" in line:
                reply = json.loads(ran.stdout)
                assert reply["ticket_id"] == said["livechat"], "the newest ticket is the one the customer wrote in"
                assert reply["author"]["type"] == "user"
                listen.wait_for(rf"comment:created\s+ticket {reply['ticket_id']}\s+user: {re.escape(reply['body'])}")
                checked.add("reply")
            elif line.startswith("unified-ticketing export"):
                exported = int(re.search(r"exported (\d+) tickets", ran.stderr).group(1))
                out = home / re.search(r"--out (\S+)", line).group(1)
                records = [json.loads(x) for x in out.read_text().splitlines()]
                assert exported == len(records) == CHATS + 1  # the seeded chats and the one the customer started
                assert said["livechat"] in {r["id"] for r in records}
                assert "tickets" in ran.stderr and "/s" in ran.stderr  # the progress bar's columns
                checked.add("export")
            else:
                raise AssertionError(f"the walk-through has a step this test does not check: {line}")
        assert checked == {"list", "events", "say livechat", "say rocketchat", "reply", "export", "mcp"}, checked
        for proc in background:
            assert proc.stop() == 0
    finally:
        for proc in background:
            proc.stop()
        dev.stop()
