"""The UI's pages on 1,000,000 runs: the time from request to the last byte of each page's HTML.

Target (issue 14): a page's server time under 100 ms at 1,000,000 runs. The whole platform runs in its own
process (``arc serve --target all``) with the Nextflow stand-in; this script is the browser's HTTP client on
loopback, so the figures include the HTTP round trip and every gRPC call a page makes. The run page is timed
on a real run (created through the API, completed by the stand-in) of a user with no other runs (the heavy
user is at the limit of active runs).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx
from _support import embedded_database, percentiles, platform_process
from bench_list_runs import ADMIN, HEAVY_USER, seed

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "tests" / "data" / "inputs"
STANDIN = ROOT / "tests" / "fakes" / "nextflow"


FRESH_USER = "fresh@example.com"


def who(email: str) -> dict[str, str]:
    return {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{email}"}


async def real_run(http: httpx.AsyncClient) -> str:
    body = {
        "pipeline": "nf-core/scrnaseq",
        "pipeline_version": "2.7.1",
        "samplesheet_csv": "sample,fastq_1,fastq_2\n"
        f"s1,{INPUTS}/s1_L001_R1.fastq.gz,{INPUTS}/s1_L001_R2.fastq.gz\n"
        f"s2,{INPUTS}/s2_R1.fastq.gz,{INPUTS}/s2_R2.fastq.gz\n",
        "params": {"genome": "GRCh38", "protocol": "10XV3", "aligner": "star"},
    }
    created = await http.post("/api/runs", json=body, headers=who(FRESH_USER))
    created.raise_for_status()
    run_id = created.json()["run_id"]
    async with asyncio.timeout(120):
        while (await http.get(f"/api/runs/{run_id}", headers=who(FRESH_USER))).json()["status"] not in {
            "completed",
            "failed",
        }:
            await asyncio.sleep(0.5)
    return run_id


async def measure(http: httpx.AsyncClient, name: str, path: str, email: str, iterations: int) -> None:
    for _ in range(10):  # warm-up: connections, prepared statements, template compilation
        (await http.get(path, headers=who(email))).raise_for_status()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        response = await http.get(path, headers=who(email))
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    print(f"{name:<40} {len(response.content) / 1024:6.1f} KiB  {percentiles(samples)}")


async def run(http_port: int, iterations: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=60) as http:
        run_id = await real_run(http)
        pages = [
            ("runs page, heavy user (100,000 runs)", "/", HEAVY_USER),
            ("runs page, heavy user, page 200", "/?page=200", HEAVY_USER),
            ("runs page, admin, status=failed", "/?status=failed", ADMIN),
            ("runs page, admin, name search (no match)", "/?q=atlas", ADMIN),
            ("run page (a completed run)", f"/runs/{run_id}", FRESH_USER),
            ("launch page", "/launch?pipeline=nf-core/scrnaseq", HEAVY_USER),
            ("pipelines page", "/pipelines", HEAVY_USER),
            ("benchling page", "/benchling", HEAVY_USER),
        ]
        for name, path, email in pages:
            if (await http.get(path, headers=who(email))).status_code == 404:
                print(f"{name:<40} (no such page yet)")
                continue
            await measure(http, name, path, email, iterations)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    with embedded_database() as dsn:
        asyncio.run(seed(dsn, args.runs))
        env = {
            "ARC_ADMIN_EMAILS": ADMIN,
            "ARC_NEXTFLOW_BIN": str(STANDIN),
            "ARC_INPUT_LOCATIONS": str(INPUTS),
            "NXF_FAKE_TASK_SECONDS": "0.05",
        }
        with platform_process(dsn, "all", **env) as child:
            asyncio.run(run(child.http_port, args.iterations))


if __name__ == "__main__":
    main()
