"""`make run` (`unified-ticketing dev`): every sandbox, the service and a demo account on each, working,
with real-time events wired and its settings found by commands run beside it."""
import os
import re
import shlex
import subprocess
import threading

import requests

from tests.ops.conftest import CLI, free_port, wait_until


def test_dev_serves_a_demo_account_on_every_sandbox_with_webhooks_wired(tmp_path):
    port = free_port()
    # dev starts its own embedded Valkey; its stack file goes to a data folder of this test's own
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"UNIFIED_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([*CLI, "dev", "--port", "0", "--chats", "40", "--rooms", "30", "--service-port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        wait_until(lambda: any("Press Ctrl-C" in line for line in lines), 120, "dev to print its demo accounts")
        output = "".join(lines)
        webhooks = dict(re.findall(r"^  (livechat|rocketchat)\s+\S+\s+\(webhooks: (.*)\)$", output, re.M))
        assert webhooks["livechat"].startswith("enabled for license"), output
        assert webhooks["rocketchat"].startswith("registered 6 actions"), output
        assert re.search(r"livechat webhooks: registered \d+ actions .* for client \w+ at "
                         rf"http://127.0.0.1:{port}/webhooks/livechat", output), output
        assert "Webhook worker: 2 threads" in output
        printed = subprocess.run([*CLI, "dev", "--env"], capture_output=True, text=True, env=env, timeout=60)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.startswith("export ")
        demo = dict(item.split("=", 1) for item in shlex.split(printed.stdout)[1:])
        assert demo["UT_API"] == f"http://127.0.0.1:{port}"
        for name in ("LIVECHAT", "ROCKETCHAT"):
            resp = requests.get(f"{demo['UT_API']}/unified/ticketing/tickets", timeout=30,
                                params={"integrated_account_id": demo[f"UT_{name}"], "limit": 2},
                                headers={"Authorization": f"Bearer {demo['UT_KEY']}"})
            assert resp.status_code == 200, (name, resp.text)
            assert len(resp.json()["result"]) == 2, name
        # the helpdesk commands run beside it act on its app and accounts (README: webhooks)
        listed = subprocess.run([*CLI, "webhooks", "list"], capture_output=True, text=True, env=env, timeout=60)
        assert listed.returncode == 0, listed.stderr
        ours = [line for line in listed.stdout.splitlines() if line.endswith("(this service)")]
        assert len(ours) == 5 and all(f"http://127.0.0.1:{port}/webhooks/livechat" in line for line in ours), ours
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
    gone = subprocess.run([*CLI, "dev", "--env"], capture_output=True, text=True, env=env, timeout=60)
    assert gone.returncode == 1 and "no running demo" in gone.stderr
