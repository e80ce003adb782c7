"""ListRuns paging (keyset, with inserts in between), filters, and who may see what."""

from __future__ import annotations

import grpc
import pytest

from arc.runs.v1 import runs_service_pb2
from arc_core.paging import encode_offset, query_key
from services.runs import status as st
from tests.runs.conftest import insert_run
from tests.support.platform import email_metadata

PAGER = "pager@example.com"


async def bulk_insert(service, owner: str, n: int) -> set[str]:
    """n runs with distinct created_at values, inserted in one statement."""
    rows = await service.store.pool.fetch(
        """
        INSERT INTO runs (run_id, pipeline, pipeline_version, status, user_email, gcs_path, params, sample_count,
                          created_at)
        SELECT 'run-' || substr(md5(random()::text || g::text), 1, 8), 'nf-core/scrnaseq', '2.7.1',
               CASE WHEN g % 3 = 0 THEN 'completed' ELSE 'pending' END, $1, '/tmp', '{}'::jsonb, 1,
               now() - make_interval(secs => g)
        FROM generate_series(1, $2) g
        RETURNING run_id
        """,
        owner,
        n,
    )
    return {r["run_id"] for r in rows}


async def test_paging_over_1000_runs_with_inserts_in_between(platform, runs_service) -> None:
    expected = await bulk_insert(runs_service, PAGER, 1000)
    meta = email_metadata(PAGER)
    seen: list[str] = []
    token, pages = "", 0
    while True:
        response = await platform.runs.ListRuns(
            runs_service_pb2.ListRunsRequest(page_size=97, page_token=token), metadata=meta
        )
        seen.extend(r.run_id for r in response.runs)
        assert response.total_size == 1000  # the total of the listing as it began
        pages += 1
        if pages == 3:  # new runs arrive while the client pages: they are newer, so they don't shift pages
            await insert_run(runs_service, owner=PAGER)
            await insert_run(runs_service, owner=PAGER)
        token = response.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 1000  # no duplicate
    assert set(seen) == expected  # no gap
    assert pages == 11


async def test_newest_first_and_filters(platform, runs_service) -> None:
    owner = "filters@example.com"
    await bulk_insert(runs_service, owner, 30)
    meta = email_metadata(owner)
    response = await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(page_size=30), metadata=meta)
    created = [r.created_at.ToDatetime() for r in response.runs]
    assert created == sorted(created, reverse=True)
    completed = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter='status = "completed"'), metadata=meta
    )
    assert completed.total_size == 10 and all(r.status == 4 for r in completed.runs)
    other = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter='pipeline = "nf-core/rnaseq"'), metadata=meta
    )
    assert other.total_size == 0 and not other.runs


@pytest.mark.parametrize("spelling", ["completed", "COMPLETED", "Completed"])
async def test_status_filter_takes_any_case(platform, runs_service, spelling: str) -> None:
    """ListRuns' status filter compares case-insensitively, as ListTasks' status does."""
    owner = f"case-{spelling.encode().hex()}@example.com"
    await bulk_insert(runs_service, owner, 6)
    response = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter=f'status = "{spelling}"'), metadata=email_metadata(owner)
    )
    assert response.total_size == 2 and all(r.status == 4 for r in response.runs)
    headers = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{owner}"}
    rest = await platform.http.get("/api/runs", params={"status": spelling}, headers=headers)
    assert rest.status_code == 200 and [r["status"] for r in rest.json()["runs"]] == ["completed"] * 2


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"filter": "status = running"}, "filter"),
        ({"filter": 'owner = "x"'}, "filter"),
        ({"filter": 'status = "exploded"'}, "filter"),
        ({"page_token": "not-a-token"}, "page_token"),
    ],
)
async def test_bad_list_requests(platform, request_fields, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(**request_fields))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_token_from_another_filter_is_refused(platform, runs_service) -> None:
    owner = "tokens@example.com"
    await bulk_insert(runs_service, owner, 5)
    meta = email_metadata(owner)
    first = await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(page_size=2), metadata=meta)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.ListRuns(
            runs_service_pb2.ListRunsRequest(
                page_size=2, page_token=first.next_page_token, filter='status = "pending"'
            ),
            metadata=meta,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "page_token does not match the request"
    for token, message in (
        (encode_offset(2, query_key("ListPipelines")), "page_token does not match the request"),  # another list's
        (encode_offset(2, query_key("ListRuns", None, None, owner)), "invalid page_token"),  # not a keyset position
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(page_token=token), metadata=meta)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details() == message


async def test_rest_pages_and_filters(platform, runs_service) -> None:
    owner = "rest@example.com"
    ids = await bulk_insert(runs_service, owner, 25)
    headers = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{owner}"}
    pages = [
        (await platform.http.get("/api/runs", params={"page": p, "page_size": 10}, headers=headers)).json()
        for p in (1, 2, 3)
    ]
    assert [len(p["runs"]) for p in pages] == [10, 10, 5]
    assert {r["run_id"] for p in pages for r in p["runs"]} == ids
    assert pages[1]["total"] == 25 and pages[1]["page"] == 2 and pages[1]["page_size"] == 10
    run = pages[0]["runs"][0]
    assert set(run) >= {"run_id", "pipeline", "status", "user_email", "created_at", "gcs_path", "params", "exit_code"}
    assert run["status"] in ("pending", "completed") and run["exit_code"] is None
    done = (await platform.http.get("/api/runs", params={"status": "completed"}, headers=headers)).json()
    assert {r["status"] for r in done["runs"]} == {"completed"}
    bad = await platform.http.get("/api/runs", params={"page_size": 0}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_ARGUMENT"


async def test_owner_admin_and_stranger(platform, runs_service) -> None:
    run_id = await insert_run(runs_service, owner="owner@example.com")
    request = runs_service_pb2.GetRunRequest(run_id=run_id)
    assert (await platform.runs.GetRun(request, metadata=email_metadata("owner@example.com"))).run_id == run_id
    assert (await platform.runs.GetRun(request, metadata=email_metadata("admin@example.com"))).run_id == run_id
    stranger = email_metadata("stranger@example.com")
    for call in (
        platform.runs.GetRun(request, metadata=stranger),
        platform.runs.CancelRun(runs_service_pb2.CancelRunRequest(run_id=run_id), metadata=stranger),
        platform.runs.ListRunFiles(runs_service_pb2.ListRunFilesRequest(run_id=run_id), metadata=stranger),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # A stranger's list never shows it, even when asking for the owner's runs by name.
    listed = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter='user_email = "owner@example.com"'), metadata=stranger
    )
    assert run_id not in {r.run_id for r in listed.runs}
    admin_list = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter='user_email = "owner@example.com"'),
        metadata=email_metadata("admin@example.com"),
    )
    assert run_id in {r.run_id for r in admin_list.runs}
    # Over HTTP the stranger sees a 404 with the error body, the admin can cancel.
    stranger_headers = {"X-Goog-Authenticated-User-Email": "accounts.google.com:stranger@example.com"}
    response = await platform.http.get(f"/api/runs/{run_id}", headers=stranger_headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    admin_headers = {"X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com"}
    cancelled = await platform.http.delete(f"/api/runs/{run_id}", headers=admin_headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_cancel_rules(platform, runs_service) -> None:
    meta = email_metadata("alice@example.com")
    run_id = await insert_run(runs_service)
    cancelled = await platform.runs.CancelRun(runs_service_pb2.CancelRunRequest(run_id=run_id), metadata=meta)
    assert cancelled.status == 6 and cancelled.HasField("cancelled_at")
    again = await platform.runs.CancelRun(runs_service_pb2.CancelRunRequest(run_id=run_id), metadata=meta)
    assert again.status == 6  # repeating the current status is a no-op
    done = await insert_run(runs_service)
    for target in (st.SUBMITTED, st.RUNNING, st.COMPLETED):
        await runs_service.store.move(done, target, reason="test", actor="test")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.CancelRun(runs_service_pb2.CancelRunRequest(run_id=done), metadata=meta)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    response = await platform.http.delete(
        f"/api/runs/{done}", headers={"X-Goog-Authenticated-User-Email": "alice@example.com"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "FAILED_PRECONDITION"


async def test_users_are_created_on_first_request(platform, runs_service) -> None:
    newcomer = "newcomer@example.com"
    assert await runs_service.store.get_user(newcomer) is None
    await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(), metadata=email_metadata(newcomer))
    user = await runs_service.store.get_user(newcomer)
    assert user is not None and user.display_name == "newcomer" and user.last_login_at is not None


async def test_invalid_run_id_is_invalid_argument(platform) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.GetRun(runs_service_pb2.GetRunRequest(run_id="../../etc/passwd"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "path",
    [
        "/api/benchling/runs?page_size=-812419565811",
        "/api/benchling/runs?page_size=99999999999999999999",
        "/api/pipelines?page_size=9223372036854775808",
        "/api/pipelines?page_size=-1",
        "/api/runs?page=9223372036854775807",
        "/api/runs?page=0",
        "/api/runs?page_size=100000",
        "/api/runs/run-0a1b2c3d/tasks?page=4294967296",
    ],
)
async def test_out_of_range_integers_are_400_never_500(platform, path: str) -> None:
    response = await platform.http.get(path, headers={"X-Goog-Authenticated-User-Email": "alice@example.com"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
