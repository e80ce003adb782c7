"""DownloadLogArchive over real gRPC and HTTP: contents, file name, and a big log in bounded memory."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile

import grpc

from arc.logs.v1 import logs_service_pb2
from services.logs.archive import log_archive
from tests.logs.conftest import ALICE, ALICE_HEADERS, BOB, end_run, insert_run, run_standin


async def download(logs, run_id: str, metadata=ALICE) -> tuple[str, bytes, int]:  # type: ignore[no-untyped-def]
    call = logs.DownloadLogArchive(logs_service_pb2.DownloadLogArchiveRequest(run_id=run_id), metadata=metadata)
    filename, data, chunks = "", bytearray(), 0
    async for chunk in call:
        if chunks == 0:
            filename = chunk.filename
        else:
            assert not chunk.filename
        data += chunk.data
        chunks += 1
    return filename, bytes(data), chunks


async def test_archive_holds_the_logs_that_exist(logs, runs_service, storage, tmp_path, platform) -> None:
    run_id = await insert_run(runs_service)
    await run_standin(storage.root, run_id, tmp_path, fail_task="FASTQC (sample2)")
    await end_run(runs_service, run_id, "failed")
    filename, data, _ = await download(logs, run_id)
    assert filename == f"{run_id}-logs.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["nextflow.log", "trace.txt", "timeline.html", "report.html"]
        for name in zf.namelist():
            assert zf.read(name) == (storage.root / "runs" / run_id / "logs" / name).read_bytes()
        assert all(info.flag_bits & 0x08 for info in zf.infolist())  # streamed: sizes in data descriptors

    response = await platform.http.get(f"/api/runs/{run_id}/logs/download", headers=ALICE_HEADERS)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert f'filename="{run_id}-logs.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        assert zf.read("trace.txt") == (storage.root / "runs" / run_id / "logs" / "trace.txt").read_bytes()


async def test_archive_of_a_run_without_logs_is_an_empty_zip_and_strangers_get_not_found(logs, runs_service) -> None:
    run_id = await insert_run(runs_service, status="pending")
    filename, data, _ = await download(logs, run_id)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == []
    try:
        await download(logs, run_id, BOB)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("a stranger downloaded the archive")


async def test_a_big_log_streams_in_bounded_memory(logs, runs_service, storage, tmp_path) -> None:
    run_id = await insert_run(runs_service, status="completed")
    folder = storage.root / "runs" / run_id / "logs"
    folder.mkdir(parents=True)
    line = b"May-01 12:00:04.490 [Task submitter] INFO  nextflow.Session - [4e/1ab2cd] Submitted process > X (%d)\n"
    size = 0
    with open(folder / "nextflow.log", "wb") as fh:
        block = b"".join(line.replace(b"%d", str(i).encode()) for i in range(5000))
        random_tail = os.urandom(1 << 20)  # some incompressible bytes too
        while size < 48 << 20:
            fh.write(block)
            size += len(block)
        fh.write(random_tail)
        size += len(random_tail)

    out = tmp_path / "archive.zip"
    tracemalloc.start()
    try:
        with open(out, "wb") as fh:  # the client writes to disk as it receives, like a browser
            call = logs.DownloadLogArchive(logs_service_pb2.DownloadLogArchiveRequest(run_id=run_id), metadata=ALICE)
            async for chunk in call:
                fh.write(chunk.data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak Python allocations {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB log"
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("nextflow.log").file_size == size
        assert zf.testzip() is None


async def test_archive_generator_pieces_are_bounded(storage, runs_service) -> None:
    run_id = await insert_run(runs_service, status="completed")
    folder = storage.root / "runs" / run_id / "logs"
    folder.mkdir(parents=True)
    (folder / "trace.txt").write_bytes(os.urandom(3 << 20))
    pieces = [len(p) async for p in log_archive(storage, run_id, chunk_bytes=64 << 10, out_bytes=128 << 10)]
    assert len(pieces) > 10 and max(pieces) < 512 << 10
