"""Pure pieces of the Logs service: finality, huge entries, positions, UTF-8 boundaries, backend choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from arc_core.errors import InvalidArgument
from arc_core.settings import Settings
from arc_core.storage import LocalStorage, ObjectInfo
from services.logs.cloud_task_logs import task_filter
from services.logs.runs import RunView, check_run_id
from services.logs.server import uses_cloud_logging
from services.logs.task_logs import decode_position, decode_tail, encode_position, storage_key, utf8_prefix
from services.logs.tasks import batch_ids, parse_hash_id
from services.logs.workflow_log import LogOptions, WorkflowLogReader, is_final

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def info(updated: datetime, size: int = 10) -> ObjectInfo:
    return ObjectInfo(key="k", size=size, updated_at=updated, version="1")


@pytest.mark.parametrize(
    ("status", "ended", "updated", "goodbye", "final"),
    [
        ("running", None, NOW, True, False),  # never final while the run goes
        ("failed", NOW, NOW + timedelta(seconds=1), False, True),  # uploaded after the end
        ("failed", NOW, NOW - timedelta(seconds=5), False, False),  # the final upload may still come
        ("failed", NOW, NOW - timedelta(seconds=5), True, True),  # ...unless Nextflow said goodbye
        ("cancelled", NOW - timedelta(seconds=31), NOW - timedelta(seconds=60), False, True),  # grace passed
        ("completed", None, None, False, True),
    ],
)
def test_is_final(status: str, ended, updated, goodbye: bool, final: bool) -> None:  # type: ignore[no-untyped-def]
    run = RunView(run_id="run-00000001", status=status, ended_at=ended)
    stored = info(updated) if updated else None
    assert is_final(run, stored, now=NOW, grace=30, goodbye=goodbye) is final


async def test_a_huge_entry_is_cut_and_pages_stay_bounded(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    head = b"May-01 12:00:00.000 [main] INFO  nextflow.Session - start\n"
    giant = b"May-01 12:00:01.000 [main] ERROR nextflow.Session - boom\n" + b"  at frame\n" * 30_000
    one_line = b"x" * 200_000 + b"\n"
    tail = b"May-01 12:00:02.000 [main] INFO  nextflow.Session - end\n"
    data = head + giant + one_line + tail
    await storage.write_bytes("runs/run-00000001/logs/nextflow.log", data)
    reader = WorkflowLogReader(
        storage, options=LogOptions(window_bytes=16 << 10, max_entry_bytes=64 << 10, max_page_bytes=100 << 10)
    )
    run = RunView(run_id="run-00000001", status="completed", ended_at=None)
    offset, entries, pages = 0, [], 0
    while True:
        page = await reader.page(run, offset, 5000)
        pages += 1
        entries += page.entries
        assert sum(len(e.message) for e in page.entries) < (100 << 10) + (64 << 10)
        if page.complete:
            break
        offset = page.next_offset
    assert pages > 3 and entries[-1].message == "end" and entries[-1].end_offset == len(data)
    assert all(a.end_offset == b.offset for a, b in zip(entries, entries[1:], strict=False))
    assert max(e.end_offset - e.offset for e in entries) <= 64 << 10
    assert "".join(e.message for e in entries if not e.level).count("at frame") > 0  # cut pieces kept


def test_positions_and_text_boundaries() -> None:
    token = encode_position("f", 12, 34)
    assert decode_position(token, "f") == ["12", "34"] and decode_position("", "f") is None
    for bad in ("%%%", encode_position("c", 1, "x"), "A" * 600):
        with pytest.raises(InvalidArgument):
            decode_position(bad, "f")
    text = "ok é 漢字 🎉".encode()
    for cut in range(len(text) + 1):
        n = utf8_prefix(text[:cut])
        text[:n].decode("utf-8")  # never ends inside a character
        assert cut - n < 4
    assert decode_tail("é漢".encode()[1:]) == "漢"


def test_ids_and_keys(tmp_path: Path) -> None:
    assert parse_hash_id("ab/cdef12") == ("ab", "cdef12") and parse_hash_id("abcdef12") == ("ab", "cdef12")
    assert parse_hash_id("ab/cdef1") is None and parse_hash_id("12") is None and parse_hash_id("../x") is None
    assert batch_ids("nf-ab-1/0/uid-1") == ("nf-ab-1", "0", "uid-1") and batch_ids("31522") is None
    assert batch_ids('nf"x/0/u') is None  # nothing that could break out of a Logging filter
    storage = LocalStorage(tmp_path)
    assert storage_key(storage, str(tmp_path / "runs" / "r" / "work")) == "runs/r/work"
    assert storage_key(storage, "/elsewhere/work") is None
    assert storage_key(storage, str(tmp_path / "runs" / ".." / ".." / "etc")) is None
    with pytest.raises(InvalidArgument):
        check_run_id("run-1234567")
    assert check_run_id("run-0123abcd") == "run-0123abcd"


def test_filter_quotes_values() -> None:
    text = task_filter("p", uid="u", task_index="0", run_id='run-"x', since=None)
    assert text.endswith('labels."run-id"="run-\\"x"')


@pytest.mark.parametrize(
    ("task_logs", "root", "cloud"),
    [("auto", "/data", False), ("auto", "gs://bucket", True), ("cloud", "/data", True), ("local", "gs://b", False)],
)
def test_backend_choice(task_logs: str, root: str, cloud: bool) -> None:
    assert uses_cloud_logging(Settings(task_logs=task_logs, storage_root=root)) is cloud
