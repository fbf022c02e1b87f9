"""Harness of the Python SDK end-to-end suite: each test gets a fresh Kairos
server (the binary in $KAIROS_BIN, or build/server/kairos) on a free loopback
port with its own database file, stopped gracefully afterwards."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def kairos_binary() -> str:
    binary = os.environ.get("KAIROS_BIN") or str(ROOT / "build" / "server" / "kairos")
    if not Path(binary).exists():
        pytest.fail(f"kairos binary not found at {binary} (build it or set KAIROS_BIN)")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = tmp / "kairos.log"
        args = [kairos_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
                "--headless", "--log-level", "warn", "--db-filename", str(tmp / "kairos.db"), *extra_args]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        pytest.fail("server did not listen within 10 s")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.log.close()


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path)
    yield srv
    code = srv.stop()
    assert code == 0, f"server exit code {code}:\n{srv.log_path.read_text()}"
