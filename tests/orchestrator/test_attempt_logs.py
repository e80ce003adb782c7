"""What a retried attempt (after a preempted VM) keeps of the earlier attempts' nextflow.log."""

from __future__ import annotations

from pathlib import Path

import pytest

from arc_core.errors import Unavailable
from arc_core.storage import LocalStorage
from orchestrator import main as orchestrator_main
from orchestrator.config import OrchestratorConfig
from orchestrator.main import Supervisor, attempt_boundary_line, carried_log_prefix, own_attempt_lines

FIRST = b"Dec-03 07:00:00.000 [main] INFO  nextflow.cli.Launcher - first attempt\n"
SECOND = b"Dec-03 07:10:00.000 [main] INFO  nextflow.Session - second attempt\n"


def test_the_archive_of_an_attempt_holds_only_its_own_lines() -> None:
    assert own_attempt_lines(FIRST) == FIRST  # the first attempt: no boundary, all of it
    boundary = attempt_boundary_line(2, "s-1").encode()
    live = FIRST + boundary + SECOND
    assert own_attempt_lines(live) == boundary + SECOND
    third = attempt_boundary_line(3, "s-1").encode()
    assert own_attempt_lines(live + third + b"x\n") == third + b"x\n"


def test_the_carried_prefix_is_capped_at_its_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    assert carried_log_prefix(b"no newline") == b"no newline\n"
    assert carried_log_prefix(b"") == b""
    monkeypatch.setattr(orchestrator_main, "MAX_CARRIED_LOG_BYTES", 100)
    lines = [f"line {i:04d} ".encode() + b"." * 20 + b"\n" for i in range(50)]
    carried = carried_log_prefix(b"".join(lines))
    note, _, kept = carried.partition(b"\n")
    assert b"earlier bytes left out: see logs/attempts/" in note
    assert kept.endswith(lines[-1]) and len(kept) <= 100
    assert kept.startswith(b"line ")  # cut at a line start, never mid-line
    left_out = int(note.split(b"==== ")[1].split()[0])
    assert left_out + len(kept) == sum(map(len, lines))


class ArchiveRefused(LocalStorage):
    """The run's storage, where writing under logs/attempts/ is refused (e.g. a retention lock)."""

    async def write_bytes(self, key: str, data: bytes):  # type: ignore[no-untyped-def]
        if key.startswith("logs/attempts/"):
            raise Unavailable(f"writing {key} refused")
        return await super().write_bytes(key, data)


async def test_an_archive_that_cannot_be_written_does_not_stop_the_attempt(tmp_path: Path) -> None:
    storage = ArchiveRefused(tmp_path)
    await storage.write_bytes("logs/nextflow.log", FIRST)
    await storage.write_bytes("logs/trace.txt", b"task_id\thash\n")
    config = OrchestratorConfig(
        run_id="run-0000aaaa",
        pipeline="demo/hello",
        pipeline_version="1.0.0",
        run_root=str(tmp_path),
        config_uri="c",
        params_uri="p",
        work_dir=str(tmp_path / "work"),
        session_id="s-1",
        resume_session_id=None,
        cache_uri=str(tmp_path / "cache"),
        status_address="127.0.0.1:1",
        token="t",
        attempt=1,
    )
    supervisor = Supervisor(config, reporter=None, environ={})  # type: ignore[arg-type]  # never reports here
    earlier = await supervisor._keep_earlier_attempts(storage)
    assert earlier["logs/nextflow.log"].startswith(FIRST)  # the live log still carries the first attempt
    assert b"==== attempt 2:" in earlier["logs/nextflow.log"]
    assert await storage.list("logs/attempts") == []
