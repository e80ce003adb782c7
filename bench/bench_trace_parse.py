"""Benchmark: parse a 100,000-task Nextflow trace cold, then serve ListTasks-like lookups from the cache.

Run: ``.venv/bin/python bench/bench_trace_parse.py [--tasks N] [--raw] [--repeat R]``.
Targets: cold parse < 1 s, cached lookup < 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arc_core.paging import paginate, query_key  # noqa: E402
from services.logs.trace_cache import TraceCache  # noqa: E402
from services.logs.trace_parser import (  # noqa: E402
    DEFAULT_FIELDS,
    filter_tasks,
    parse_bytes,
    parse_duration_ms,
    parse_int,
    parse_percent,
    parse_trace,
)

PROCESSES = [
    "NFCORE_SCRNASEQ:SCRNASEQ:FASTQC",
    "NFCORE_SCRNASEQ:SCRNASEQ:SCRNASEQ_ALEVIN:SIMPLEAF_INDEX",
    "NFCORE_SCRNASEQ:SCRNASEQ:SCRNASEQ_ALEVIN:SIMPLEAF_QUANT",
    "NFCORE_SCRNASEQ:SCRNASEQ:SCRNASEQ_ALEVIN:ALEVINQC",
    "NFCORE_SCRNASEQ:SCRNASEQ:MTX_CONVERSION:MTX_TO_H5AD",
    "NFCORE_SCRNASEQ:SCRNASEQ:MTX_CONVERSION:CONCAT_H5AD",
    "NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC",
]


def _human_duration(ms: int) -> str:
    """Nextflow's ``Duration.toString``."""
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        v = round(ms / 100) / 10
        return f"{v:g}s"
    secs = round(ms / 1000)
    mins, secs = divmod(secs, 60)
    hours, mins = divmod(mins, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (mins, "m"), (secs, "s")) if v]
    return " ".join(parts)


def _human_mem(n: int) -> str:
    """Nextflow's ``MemoryUnit.toString``."""
    if n <= 0:
        return "0"
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    g = 0
    while g + 1 < len(units) and n >= 1024 ** (g + 1):
        g += 1
    return f"{n / 1024**g:.1f}".rstrip("0").rstrip(".") + " " + units[g]


def generate_trace(n_tasks: int, *, raw: bool = False, seed: int = 7) -> bytes:
    """A realistic default-columns trace with ``n_tasks`` rows (human units unless ``raw``)."""
    rnd = random.Random(seed)
    t0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    lines = ["\t".join(DEFAULT_FIELDS)]
    for i in range(1, n_tasks + 1):
        proc = PROCESSES[i % len(PROCESSES)]
        status = rnd.choices(["COMPLETED", "CACHED", "FAILED"], weights=[90, 8, 2])[0]
        submit = t0 + timedelta(milliseconds=i * 137 + rnd.randint(0, 999))
        realtime = rnd.randint(50, 7_200_000)
        duration = realtime + rnd.randint(100, 90_000)
        rss = rnd.randint(1 << 20, 16 << 30)
        vmem = rss + rnd.randint(0, 4 << 30)
        rchar = rnd.randint(0, 50 << 30)
        wchar = rnd.randint(0, 10 << 30)
        cpu = rnd.randint(0, 8000) / 10
        h = f"{rnd.getrandbits(8):02x}/{rnd.getrandbits(24):06x}"
        exit_code = "1" if status == "FAILED" else "0"
        if raw:
            cells = [
                str(i), h, str(100_000 + i), f"{proc} (sample_{i})", status, exit_code,
                str(int(submit.timestamp() * 1000)), str(duration), str(realtime), f"{cpu}",
                str(rss), str(vmem), str(rchar), str(wchar),
            ]  # fmt: skip
        else:
            cells = [
                str(i), h, str(100_000 + i), f"{proc} (sample_{i})", status, exit_code,
                submit.strftime("%Y-%m-%d %H:%M:%S.") + f"{submit.microsecond // 1000:03d}",
                _human_duration(duration), _human_duration(realtime), f"{cpu:.1f}%",
                _human_mem(rss), _human_mem(vmem), _human_mem(rchar), _human_mem(wchar),
            ]  # fmt: skip
        lines.append("\t".join(cells))
    return ("\n".join(lines) + "\n").encode()


def _clear_memo() -> None:
    for fn in (parse_int, parse_duration_ms, parse_bytes, parse_percent):
        fn.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--raw", action="store_true", help="trace.raw = true numbers")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    t = time.perf_counter()
    x = 0
    for i in range(10_000_000):
        x += i
    print(f"machine reference: a 10M-iteration Python loop takes {time.perf_counter() - t:.2f} s")

    data = generate_trace(args.tasks, raw=args.raw)
    print(f"trace: {args.tasks} tasks, {len(data) / 1e6:.1f} MB, {'raw' if args.raw else 'human'} units")

    colds = []
    for _ in range(args.repeat):
        _clear_memo()  # cold: no memoised unit conversions from a previous parse
        gc.collect()
        t = time.perf_counter()
        tasks = parse_trace(data)
        colds.append(time.perf_counter() - t)
        assert len(tasks) == args.tasks
        del tasks  # do not hold the previous result while timing the next parse
    print(f"cold parse_trace:      min {min(colds) * 1e3:7.1f} ms  median {statistics.median(colds) * 1e3:7.1f} ms")

    cache = TraceCache()
    _clear_memo()
    gc.collect()
    t = time.perf_counter()
    cache.get_or_parse("gs://bucket/runs/run-0000abcd/logs/trace.txt", "1714567890123456", lambda: data)
    print(f"cold cache miss:       {(time.perf_counter() - t) * 1e3:7.1f} ms (parse + index + progress)")

    uri = "gs://bucket/runs/run-0000abcd/logs/trace.txt"
    cases = {
        "first page, no filter": dict(status=None, process=None),
        "status=FAILED": dict(status="FAILED", process=None),
        "process=FASTQC": dict(status=None, process="FASTQC"),
    }
    for label, flt in cases.items():
        times = []
        for _ in range(20):
            t = time.perf_counter()
            parsed = cache.get_or_parse(uri, "1714567890123456", lambda: data)
            rows = filter_tasks(parsed.tasks, **flt)
            fp = query_key("ListTasks", "run-0000abcd", flt["status"], flt["process"])
            page = paginate(rows, 100, "", fp)
            page = paginate(rows, 100, page.next_page_token, fp) if page.next_page_token else page
            _ = parsed.progress
            times.append(time.perf_counter() - t)
        print(
            f"cached ListTasks pages 1+2 ({label}): median {statistics.median(times) * 1e3:6.2f} ms"
            f"  max {max(times) * 1e3:6.2f} ms  ({len(rows)} matching)"
        )


if __name__ == "__main__":
    main()
