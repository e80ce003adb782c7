"""Benchmark the Logs service as deployed: its own process (``arc serve --target logs``), Runs + gateway in another.

Run: ``.venv/bin/python bench/bench_logs_service.py [--tasks N] [--archive-mb MB] [--stream-mb MB]``.

Prints:
  * ListTasks on a 100,000-task trace through gRPC: cold (first call after the trace lands; target < 1 s),
    cached (target < 50 ms), filtered, deep page, and after rows are appended (incremental re-read);
  * a follower of a growing log: delay from a line reaching storage to the client receiving it (target < 1 s),
    for appends and for whole-file replacements (the orchestrator's copies);
  * DownloadLogArchive of ~1 GB of logs: time, throughput and the serving process's peak RSS (target < 100 MB);
  * streaming throughput side by side: reading the file directly, parsing it in-process, StreamWorkflowLog over
    gRPC, GetWorkflowLog pages, and the SSE route through the gateway.
Data is generated in a temporary directory that is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import grpc
import httpx
from _support import embedded_database, free_port, percentiles, platform_process
from bench_trace_parse import generate_trace

from arc.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from arc_core.db import create_pool
from services.logs.log_parser import parse_log_chunk
from services.runs.service import hash_token
from services.runs.store import NewRun, RunStore

OWNER = "bench@example.com"
METADATA = (("x-goog-authenticated-user-email", f"accounts.google.com:{OWNER}"),)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ----------------------------------------------------------------------------------------- processes


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


async def insert_run(store: RunStore, root: Path, status: str) -> str:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    await store.insert_run(
        NewRun(
            run_id=run_id, pipeline="nf-core/scrnaseq", pipeline_version="2.7.1", user_email=OWNER, user_name=None,
            gcs_path=str(root / "runs" / run_id), params={}, sample_count=1, source_ngs_runs=None,
            source_project=None, nextflow_session_id=str(uuid.uuid4()), orchestrator_token_sha256=hash_token("x"),
            request_id=None,
        )
    )  # fmt: skip
    path = {"running": ["submitted", "running"]}.get(status, ["submitted", "running", status])
    for target in path:
        await store.move(run_id, target, reason="bench", actor="bench")
    return run_id


# -------------------------------------------------------------------------------------------- data


def log_stamp(t: float) -> str:
    lt = time.localtime(t)
    return f"{MONTHS[lt.tm_mon - 1]}-{lt.tm_mday:02d} {time.strftime('%H:%M:%S', lt)}.{int(t * 1000) % 1000:03d}"


def log_block(seed: int, size: int = 4 << 20) -> bytes:
    """Realistic varied workflow-log text (submissions, completions, a stack trace now and then)."""
    rnd = random.Random(seed)
    out, n, t = [], 0, 1_714_564_800.0 + seed * 3600
    while n < size:
        t += rnd.random()
        h = f"{rnd.getrandbits(8):02x}/{rnd.getrandbits(24):06x}"
        k = rnd.random()
        if k < 0.4:
            line = (
                f"{log_stamp(t)} [Task submitter] INFO  nextflow.Session - [{h}] Submitted process > "
                f"NFCORE_SCRNASEQ:SCRNASEQ:FASTQC (sample_{rnd.randint(1, 99999)})\n"
            )
        elif k < 0.8:
            line = (
                f"{log_stamp(t)} [Task monitor] DEBUG n.processor.TaskPollingMonitor - Task completed > "
                f"TaskHandler[id: {rnd.randint(1, 99999)}; name: FASTQC (sample_{rnd.randint(1, 99999)}); "
                f"status: COMPLETED; exit: 0; error: -; workDir: /data/work/{h}{rnd.getrandbits(96):024x}]\n"
            )
        elif k < 0.99:
            line = f"{log_stamp(t)} [main] DEBUG nextflow.Session - Session await > {rnd.getrandbits(64):x}\n"
        else:
            frames = "".join(
                f"\tat nextflow.Fn{rnd.randint(1, 999)}.call(Fn.groovy:{rnd.randint(1, 900)})\n" for _ in range(12)
            )
            head = f"{log_stamp(t)} [Actor Thread 7] ERROR nextflow.extension.OperatorImpl - @unknown\n"
            line = f"{head}java.lang.InterruptedException: null\n{frames}"
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def write_log(path: Path, size: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = [log_block(i) for i in range(4)]
    written = 0
    with open(path, "wb") as fh:
        i = 0
        while written < size:
            block = blocks[i % len(blocks)]
            fh.write(block)
            written += len(block)
            i += 1
    return written


# -------------------------------------------------------------------------------------------- benches


async def bench_list_tasks(stub, store: RunStore, root: Path, tasks: int) -> None:
    print(f"\n== ListTasks on a {tasks:,}-task trace (service in its own process, over gRPC)")
    data = generate_trace(tasks)
    warm = await insert_run(store, root, "completed")  # warm the code paths on a tiny trace
    (root / "runs" / warm / "logs").mkdir(parents=True)
    (root / "runs" / warm / "logs" / "trace.txt").write_bytes(generate_trace(10))
    await stub.ListTasks(logs_service_pb2.ListTasksRequest(run_id=warm), metadata=METADATA)

    run_id = await insert_run(store, root, "completed")
    (root / "runs" / run_id / "logs").mkdir(parents=True)
    (root / "runs" / run_id / "logs" / "trace.txt").write_bytes(data)
    request = logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=100)
    started = time.perf_counter()
    response = await stub.ListTasks(request, metadata=METADATA)
    cold = (time.perf_counter() - started) * 1000
    assert response.total_size == tasks
    print(f"trace {len(data) / 1e6:.1f} MB; cold (read + parse + index + page): {cold:.0f} ms  (target < 1000 ms)")

    cases = {
        "first page": logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=100),
        "status=FAILED": logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=100, status="FAILED"),
        "process=FASTQC": logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=100, process="FASTQC"),
        "page at row 50,000": logs_service_pb2.ListTasksRequest(run_id=run_id, page_size=100, skip=50_000),
    }
    for label, req in cases.items():
        samples = []
        for _ in range(40):
            t = time.perf_counter()
            await stub.ListTasks(req, metadata=METADATA)
            samples.append((time.perf_counter() - t) * 1000)
        print(f"cached {label:<20} {percentiles(samples)}  (target < 50 ms)")

    live = await insert_run(store, root, "running")
    path = root / "runs" / live / "logs" / "trace.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    await stub.ListTasks(logs_service_pb2.ListTasksRequest(run_id=live), metadata=METADATA)
    rows = generate_trace(tasks + 100).split(b"\n")[tasks + 1 : tasks + 101]
    samples = []
    for i in range(0, 100, 10):
        with open(path, "ab") as fh:
            fh.write(b"\n".join(rows[i : i + 10]) + b"\n")
        t = time.perf_counter()
        r = await stub.ListTasks(logs_service_pb2.ListTasksRequest(run_id=live), metadata=METADATA)
        samples.append((time.perf_counter() - t) * 1000)
    assert r.total_size == tasks + 100
    print(f"growing trace, +10 rows per call (ranged read of the new rows): {percentiles(samples)}")


async def follow_once(stub, store: RunStore, root: Path, mode: str, lines: int) -> list[float]:
    """Write ``lines`` probe lines at random intervals; the delays (ms) until the follower has each."""
    run_id = await insert_run(store, root, "running")
    path = root / "runs" / run_id / "logs" / "nextflow.log"
    path.parent.mkdir(parents=True)
    content = bytearray(log_block(99, 64 << 10))
    path.write_bytes(content)
    call = stub.StreamWorkflowLog(logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id), metadata=METADATA)
    written: dict[str, float] = {}
    delays: list[float] = []

    async def reader() -> None:
        async for batch in call:
            for entry in batch.entries:
                if entry.message.startswith("probe "):
                    delays.append((time.time() - written[entry.message]) * 1000)
                    if len(delays) == lines:
                        return

    task = asyncio.create_task(reader())
    rnd = random.Random(1)
    for i in range(lines):
        await asyncio.sleep(rnd.uniform(0.05, 0.6))
        message = f"probe {i}"
        line = f"{log_stamp(time.time())} [main] INFO  nextflow.Session - {message}\n".encode()
        if mode == "append":
            written[message] = time.time()
            with open(path, "ab") as fh:
                fh.write(line)
        else:  # the orchestrator's copy: a whole new file, swapped in atomically
            content += line
            tmp = path.with_name(".copy")
            tmp.write_bytes(content)
            written[message] = time.time()
            os.replace(tmp, path)
    await asyncio.wait_for(task, 10)
    call.cancel()
    return delays


async def bench_follow(stub, store: RunStore, root: Path, lines: int) -> None:
    print("\n== A follower of a growing log: time from a line reaching storage to the client having it")
    for mode in ("append", "replace"):
        delays = await follow_once(stub, store, root, mode, lines)
        print(f"{mode:<8} {percentiles(delays)}  (target: every line < 1000 ms; worst {max(delays):.0f} ms)")


async def bench_archive(stub, store: RunStore, root: Path, size_mb: int, logs_pid: int, tmp: Path) -> None:
    print(f"\n== DownloadLogArchive of ~{size_mb} MB of logs: peak RSS of the serving process")
    run_id = await insert_run(store, root, "completed")
    folder = root / "runs" / run_id / "logs"
    t = time.perf_counter()
    log_size = write_log(folder / "nextflow.log", (size_mb - 50) << 20)
    trace = generate_trace(250_000)
    (folder / "trace.txt").write_bytes(trace)
    (folder / "timeline.html").write_bytes(b"<html>" + b"<tr><td>x</td></tr>\n" * 100_000 + b"</html>")
    (folder / "report.html").write_bytes(b"<html>" + b"<p>report</p>\n" * 100_000 + b"</html>")
    total = sum(p.stat().st_size for p in folder.iterdir())
    print(f"generated {total / 2**20:.0f} MiB ({log_size / 2**20:.0f} MiB log) in {time.perf_counter() - t:.1f} s")

    base, hwm_before = rss_mb(logs_pid), rss_mb(logs_pid, "VmHWM")
    peak_sampled = base
    out = tmp / "archive.zip"
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak_sampled
        while not done.is_set():
            peak_sampled = max(peak_sampled, rss_mb(logs_pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    t = time.perf_counter()
    received = 0
    with open(out, "wb") as fh:
        call = stub.DownloadLogArchive(logs_service_pb2.DownloadLogArchiveRequest(run_id=run_id), metadata=METADATA)
        async for chunk in call:
            fh.write(chunk.data)
            received += len(chunk.data)
    elapsed = time.perf_counter() - t
    done.set()
    await sampler
    hwm_after = rss_mb(logs_pid, "VmHWM")
    print(
        f"archive {received / 2**20:.0f} MiB (from {total / 2**20:.0f} MiB) in {elapsed:.1f} s "
        f"= {total / 2**20 / elapsed:.0f} MiB/s of logs"
    )
    print(
        f"serving process RSS: {base:.0f} MiB before, peak {peak_sampled:.0f} MiB during (sampled every 20 ms), "
        f"VmHWM {hwm_before:.0f} -> {hwm_after:.0f} MiB  (target peak < 100 MiB)"
    )
    t = time.perf_counter()
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["nextflow.log", "trace.txt", "timeline.html", "report.html"]
        assert zf.getinfo("nextflow.log").file_size == log_size
        assert zf.testzip() is None
    print(f"zip verified (CRC of every member) in {time.perf_counter() - t:.1f} s")
    shutil.rmtree(folder)
    out.unlink()


async def bench_stream(stub, store: RunStore, root: Path, size_mb: int, http_port: int) -> None:
    print(f"\n== Reading a {size_mb} MiB workflow log: direct vs in-process parse vs the service")
    run_id = await insert_run(store, root, "completed")
    path = root / "runs" / run_id / "logs" / "nextflow.log"
    size = write_log(path, size_mb << 20)
    mib = size / 2**20

    def direct() -> int:
        n = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                n += len(chunk)
        return n

    t = time.perf_counter()
    await asyncio.to_thread(direct)
    raw = time.perf_counter() - t

    def parse_local() -> int:
        count, pos = 0, 0
        with open(path, "rb") as fh:
            while True:
                fh.seek(pos)
                data = fh.read(1 << 20)
                if not data:
                    return count
                entries, consumed = parse_log_chunk(data, pos, final=len(data) < 1 << 20)
                count += len(entries)
                pos = consumed if consumed > pos else pos + len(data)

    t = time.perf_counter()
    entries = await asyncio.to_thread(parse_local)
    parsed = time.perf_counter() - t

    t = time.perf_counter()
    streamed = 0
    batches = 0
    call = stub.StreamWorkflowLog(logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id), metadata=METADATA)
    async for batch in call:
        streamed += len(batch.entries)
        batches += 1
    grpc_stream = time.perf_counter() - t

    t = time.perf_counter()
    paged, offset = 0, 0
    while True:
        page = await stub.GetWorkflowLog(
            logs_service_pb2.GetWorkflowLogRequest(run_id=run_id, offset=offset, limit=5000), metadata=METADATA
        )
        paged += len(page.entries)
        offset = page.next_offset
        if page.complete or not page.entries:
            break
    grpc_pages = time.perf_counter() - t

    t = time.perf_counter()
    sse = 0
    headers = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{OWNER}"}
    async with httpx.AsyncClient(timeout=120) as http:
        url = f"http://127.0.0.1:{http_port}/api/runs/{run_id}/logs/stream"
        async with http.stream("GET", url, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith('data: {"entries"'):
                    sse += len(json.loads(line[6:])["entries"])
    sse_time = time.perf_counter() - t
    assert streamed == entries == paged == sse, (streamed, entries, paged, sse)

    def row(label: str, seconds: float) -> None:
        print(f"{label:<44} {seconds:7.2f} s  {mib / seconds:8.1f} MiB/s  {entries / seconds:10,.0f} entries/s")

    print(f"{mib:.0f} MiB, {entries:,} entries ({batches} streamed batches)")
    row("read the file directly (1 MiB reads)", raw)
    row("parse in-process (log_parser, 1 MiB windows)", parsed)
    row("StreamWorkflowLog over gRPC", grpc_stream)
    row("GetWorkflowLog pages of 5000 over gRPC", grpc_pages)
    row("SSE /logs/stream through the gateway", sse_time)
    path.unlink()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--follow-lines", type=int, default=30)
    ap.add_argument("--archive-mb", type=int, default=1024)
    ap.add_argument("--stream-mb", type=int, default=100)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="arc-bench-logs-", dir="/tmp"))
    root = tmp / "storage"
    root.mkdir()
    try:
        with embedded_database() as dsn:
            runs_port, http_port, logs_port = free_port(), free_port(), free_port()
            common = {"DATABASE_URL": dsn, "ARC_DATA_DIR": str(tmp / "data"), "ARC_STORAGE_ROOT": str(root)}
            runs_env = {
                **common,
                "ARC_LOGS_ADDRESS": f"127.0.0.1:{logs_port}",
                "ARC_RECONCILE_INTERVAL_SECONDS": "3600",
            }
            with platform_process(dsn, "runs", "gateway", grpc_port=runs_port, http_port=http_port, **runs_env):
                logs_env = {**common, "ARC_RUNS_ADDRESS": f"127.0.0.1:{runs_port}"}
                with platform_process(dsn, "logs", grpc_port=logs_port, **logs_env) as logs_child:
                    logs_proc = logs_child.proc
                    print(f"logs service: pid {logs_proc.pid}, RSS at start {rss_mb(logs_proc.pid):.0f} MiB")
                    pool = await create_pool(dsn, min_size=1, max_size=2)
                    store = RunStore(pool)
                    await store.touch_user(OWNER, "bench")
                    channel = grpc.aio.insecure_channel(
                        f"127.0.0.1:{logs_port}", options=[("grpc.max_receive_message_length", 64 << 20)]
                    )
                    stub = logs_service_pb2_grpc.LogsServiceStub(channel)
                    try:
                        # The archive first, while the process holds no cached trace (see the RSS at the end).
                        await bench_archive(stub, store, root, args.archive_mb, logs_proc.pid, tmp)
                        await bench_list_tasks(stub, store, root, args.tasks)
                        await bench_follow(stub, store, root, args.follow_lines)
                        await bench_stream(stub, store, root, args.stream_mb, http_port)
                        print(
                            f"\nlogs service RSS at the end {rss_mb(logs_proc.pid):.0f} MiB "
                            "(parsed traces cached per version: ~150 MB per 100,000 tasks, bounded by task count)"
                        )
                    finally:
                        await channel.close()
                        await pool.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"removed {tmp}")


if __name__ == "__main__":
    asyncio.run(main())
