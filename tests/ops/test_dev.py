"""`make run` (`unified-ticketing dev`): every sandbox, the service and a demo account on each, working."""
import os
import re
import subprocess
import threading

import requests

from tests.ops.conftest import CLI, free_port, wait_until


def test_dev_serves_a_demo_account_on_every_sandbox():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # dev starts its own embedded Valkey
    proc = subprocess.Popen([*CLI, "dev", "--port", "0", "--chats", "40", "--rooms", "30", "--service-port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        wait_until(lambda: any("Press Ctrl-C" in line for line in lines), 120, "dev to print its demo accounts")
        demos = {m.group(3): (m.group(1), m.group(2)) for line in lines
                 if (m := re.search(r"curl -s '(\S+)' -H 'Authorization: Bearer (\S+)'\s+# (\w+)", line))}
        assert set(demos) == {"livechat", "rocketchat"}, lines
        for name, (url, key) in demos.items():
            resp = requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert resp.status_code == 200, (name, resp.text)
            assert len(resp.json()["result"]) == 2, name
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
