"""The app as users run it: `streamlit run` serves, and its health endpoint answers."""

import socket
import subprocess
import sys
import urllib.request

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamlit_serves_the_store(tiny_store):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--", "--store", str(tiny_store)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Streamlit prints this once its server listens; pytest-timeout bounds the wait.
        output = []
        for line in proc.stdout:
            output.append(line)
            if "You can now view your Streamlit app" in line:
                break
        else:
            raise AssertionError("streamlit exited before serving: " + "".join(output)[-2000:])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert (r.status, r.read().decode()) == (200, "ok")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
