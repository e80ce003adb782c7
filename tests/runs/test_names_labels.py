"""Run names, descriptions and labels: set at create, changed by UpdateRun / PATCH, searched and filtered by
ListRuns / GET /api/runs (name contains, any case; labels AND-ed), purged runs hidden unless asked for."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from arc.runs.v1 import run_pb2, runs_service_pb2
from arc_core.grpc_errors import from_rpc_error
from tests.runs.conftest import insert_run
from tests.runs.test_create_and_files import body, grpc_request
from tests.support.platform import email_metadata

OWNER = "names-owner@example.com"
STRANGER = "names-stranger@example.com"
ADMIN = "admin@example.com"


def http_headers(email: str) -> dict[str, str]:
    return {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{email}"}


def fields_of(response_json: dict) -> list[str]:
    return [v["field"] for d in response_json["error"]["details"] for v in d.get("field_violations", [])]


async def list_names(platform, email: str, **params: object) -> list[str]:
    response = await platform.http.get("/api/runs", params={"page_size": 500, **params}, headers=http_headers(email))
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()["runs"]]


# --- create --------------------------------------------------------------------------------------


async def test_create_stores_name_description_labels_over_rest_and_grpc(platform) -> None:
    owner = "names-create@example.com"
    created = await platform.http.post(
        "/api/runs",
        json=body(name="Liver atlas", description="first pass", labels={"team": "onc", "tier": "gold"}),
        headers=http_headers(owner),
    )
    assert created.status_code == 201, created.text
    run = created.json()
    assert (run["name"], run["description"], run["labels"]) == (
        "Liver atlas",
        "first pass",
        {"team": "onc", "tier": "gold"},
    )
    fetched = (await platform.http.get(f"/api/runs/{run['run_id']}", headers=http_headers(owner))).json()
    assert (fetched["name"], fetched["description"], fetched["labels"]) == ("Liver atlas", "first pass", run["labels"])
    listed = (await platform.http.get("/api/runs", headers=http_headers(owner))).json()["runs"]
    assert listed[0]["name"] == "Liver atlas" and listed[0]["labels"] == run["labels"]

    over_grpc = await platform.runs.CreateRun(
        grpc_request(name="Kidney", description="d", labels={"team": "neph"}), metadata=email_metadata(owner)
    )
    assert (over_grpc.name, over_grpc.description, dict(over_grpc.labels)) == ("Kidney", "d", {"team": "neph"})


async def test_default_name_with_and_without_project(platform) -> None:
    owner = "names-default@example.com"
    with_project = await platform.http.post(
        "/api/runs", json=body(source_project="ProjectX"), headers=http_headers(owner)
    )
    assert with_project.json()["name"] == "scrnaseq · 2 samples · ProjectX"
    assert with_project.json()["description"] is None and with_project.json()["labels"] == {}
    without = await platform.runs.CreateRun(grpc_request(), metadata=email_metadata(owner))
    assert without.name == "scrnaseq · 2 samples"


async def test_create_refuses_bad_names_and_labels_with_located_violations(platform) -> None:
    owner = "names-bad@example.com"
    bad = body(name="x" * 121, labels={"Bad": "ok", "team": "Not OK"})
    response = await platform.http.post("/api/runs", json=bad, headers=http_headers(owner))
    assert response.status_code == 400
    assert set(fields_of(response.json())) == {"name", "labels.Bad", "labels.team"}
    too_many = await platform.http.post(
        "/api/runs", json=body(labels={f"k{i}": "v" for i in range(65)}), headers=http_headers(owner)
    )
    assert too_many.status_code == 400 and "labels" in fields_of(too_many.json())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.CreateRun(grpc_request(name="x" * 121, labels={"9x": "v"}), metadata=email_metadata(owner))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = from_rpc_error(err.value)
    assert error is not None and {v.field for v in error.violations} == {"name", "labels.9x"}
    listed = await platform.http.get("/api/runs", headers=http_headers(owner))
    assert listed.json()["total"] == 0  # nothing was created


# --- update --------------------------------------------------------------------------------------


async def test_patch_changes_only_what_is_given_and_records_it(platform, runs_service) -> None:
    run_id = await insert_run(runs_service, OWNER, name="Old name", labels={"team": "onc"}, source_project="P7")
    before = await runs_service.store.get_run(run_id)
    url, headers = f"/api/runs/{run_id}", http_headers(OWNER)

    renamed = await platform.http.patch(url, json={"name": "New name"}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "New name" and renamed.json()["labels"] == {"team": "onc"}
    after = await runs_service.store.get_run(run_id)
    assert after.updated_at > before.updated_at and after.status == before.status

    relabelled = await platform.http.patch(
        url, json={"labels": {"team": "neph", "tier": "gold"}, "description": "why"}, headers=headers
    )
    assert relabelled.json()["labels"] == {"team": "neph", "tier": "gold"}
    assert relabelled.json()["description"] == "why" and relabelled.json()["name"] == "New name"

    reset = await platform.http.patch(url, json={"name": ""}, headers=headers)
    assert reset.json()["name"] == "scrnaseq · 2 samples · P7"  # an empty name is the default again

    unchanged = await platform.http.patch(url, json={}, headers=headers)
    assert unchanged.status_code == 200 and unchanged.json()["name"] == "scrnaseq · 2 samples · P7"

    actions = await runs_service.store.pool.fetch(
        "SELECT kind, actor, reason, status FROM run_actions WHERE run_id = $1 ORDER BY id", run_id
    )
    assert [a["kind"] for a in actions] == ["updated"] * 3  # the empty PATCH changed nothing
    assert all(a["actor"] == OWNER and a["status"] == "pending" for a in actions)
    assert 'renamed "Old name" → "New name"' in actions[0]["reason"]
    assert "labels team=onc → team=neph, tier=gold" in actions[1]["reason"] and "description" in actions[1]["reason"]
    assert "scrnaseq · 2 samples · P7" in actions[2]["reason"]
    # No status moved: the status history still has only the creation.
    moves = await runs_service.store.pool.fetchval("SELECT count(*) FROM run_status_history WHERE run_id = $1", run_id)
    assert moves == 1


async def test_patch_refuses_other_keys_and_bad_values(platform, runs_service) -> None:
    run_id = await insert_run(runs_service, OWNER)
    url, headers = f"/api/runs/{run_id}", http_headers(OWNER)
    other = await platform.http.patch(url, json={"name": "ok", "status": "completed"}, headers=headers)
    assert other.status_code == 400 and fields_of(other.json()) == ["status"]
    bad = await platform.http.patch(url, json={"name": "y" * 121, "labels": {"a": "B"}}, headers=headers)
    assert bad.status_code == 400 and set(fields_of(bad.json())) == {"name", "labels.a"}
    assert (await runs_service.store.get_run(run_id)).labels == {}


async def test_update_run_over_grpc_follows_the_mask(platform, runs_service) -> None:
    run_id = await insert_run(runs_service, OWNER, name="Keep", description="keep", labels={"a": "1"})
    meta = email_metadata(OWNER)
    only_labels = runs_service_pb2.UpdateRunRequest(
        run=run_pb2.Run(run_id=run_id, name="ignored", labels={"b": "2"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
    )
    run = await platform.runs.UpdateRun(only_labels, metadata=meta)
    assert (run.name, run.description, dict(run.labels)) == ("Keep", "keep", {"b": "2"})
    everything = runs_service_pb2.UpdateRunRequest(run=run_pb2.Run(run_id=run_id, name="All"))  # empty mask = all
    run = await platform.runs.UpdateRun(everything, metadata=meta)
    assert (run.name, run.description, dict(run.labels)) == ("All", "", {})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.UpdateRun(
            runs_service_pb2.UpdateRunRequest(
                run=run_pb2.Run(run_id=run_id), update_mask=field_mask_pb2.FieldMask(paths=["status"])
            ),
            metadata=meta,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = from_rpc_error(err.value)
    assert error is not None and [v.field for v in error.violations] == ["update_mask"]


async def test_stranger_gets_404_and_admin_may_update(platform, runs_service) -> None:
    run_id = await insert_run(runs_service, OWNER, name="Private")
    stranger = await platform.http.patch(f"/api/runs/{run_id}", json={"name": "mine"}, headers=http_headers(STRANGER))
    assert stranger.status_code == 404
    missing = await platform.http.patch("/api/runs/run-00000000", json={"name": "x"}, headers=http_headers(OWNER))
    assert missing.status_code == 404
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.UpdateRun(
            runs_service_pb2.UpdateRunRequest(run=run_pb2.Run(run_id=run_id, name="mine")),
            metadata=email_metadata(STRANGER),
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await runs_service.store.get_run(run_id)).name == "Private"
    admin = await platform.http.patch(f"/api/runs/{run_id}", json={"name": "By admin"}, headers=http_headers(ADMIN))
    assert admin.status_code == 200 and admin.json()["name"] == "By admin"
    actor = await runs_service.store.pool.fetchval("SELECT actor FROM run_actions WHERE run_id = $1", run_id)
    assert actor == ADMIN


# --- search and label filters ---------------------------------------------------------------------


@pytest.fixture(scope="module")
async def searchable(platform) -> dict[str, str]:
    """One owner's runs with names and labels to search; name → run id."""
    service = platform.service("runs")
    runs = {
        "Liver Atlas batch 1": {"team": "onc", "tier": "gold"},
        "liver atlas batch 2": {"team": "onc"},
        "Kidney 100% done": {"team": "neph", "tier": "gold"},
        "Kidney 1000 done": {"team": "neph"},
        "snake_case_name": {},
        "snakeXcaseXname": {},
        r"back\slash": {},
        "Ünïcode Lïver": {},
    }
    return {
        name: await insert_run(service, "search-owner@example.com", name=name, labels=labels)
        for name, labels in runs.items()
    }


SEARCHER = "search-owner@example.com"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("liver", {"Liver Atlas batch 1", "liver atlas batch 2"}),  # any case, contains
        ("ATLAS BATCH", {"Liver Atlas batch 1", "liver atlas batch 2"}),
        ("r atlas b", {"Liver Atlas batch 1", "liver atlas batch 2"}),
        ("batch 1", {"Liver Atlas batch 1"}),
        ("100%", {"Kidney 100% done"}),  # `%` is itself, not a wildcard
        ("0%", {"Kidney 100% done"}),
        ("%", {"Kidney 100% done"}),
        ("e_c", {"snake_case_name"}),  # `_` is itself, not any character
        ("_", {"snake_case_name"}),
        ("k\\s", {r"back\slash"}),
        ("ki", {"Kidney 100% done", "Kidney 1000 done"}),  # under three characters: no trigram, same answer
        ("lïver", {"Ünïcode Lïver"}),
        ("atlas batch 3", set()),
        ("tlas batc", {"Liver Atlas batch 1", "liver atlas batch 2"}),
    ],
)
async def test_q_matches_the_name_case_insensitively(platform, searchable, q: str, expected: set[str]) -> None:
    assert set(await list_names(platform, SEARCHER, q=q)) == expected
    response = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter=f'name:"{q.replace(chr(92), chr(92) * 2)}"'),
        metadata=email_metadata(SEARCHER),
    )
    assert {r.name for r in response.runs} == expected and response.total_size == len(expected)


async def test_label_filters_are_anded_and_combine_with_q(platform, searchable) -> None:
    assert set(await list_names(platform, SEARCHER, label="team:onc")) == {"Liver Atlas batch 1", "liver atlas batch 2"}
    both = await list_names(platform, SEARCHER, label=["team:neph", "tier:gold"])
    assert both == ["Kidney 100% done"]
    assert await list_names(platform, SEARCHER, label=["team:onc"], q="batch 2") == ["liver atlas batch 2"]
    assert await list_names(platform, SEARCHER, label="team:nobody") == []
    response = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(filter='labels.tier = "gold" AND name:"kidney"'),
        metadata=email_metadata(SEARCHER),
    )
    assert [r.name for r in response.runs] == ["Kidney 100% done"]


async def test_bad_label_and_filter_terms_are_400(platform) -> None:
    for label in ("no-colon", "Bad:x", ":x"):
        response = await platform.http.get("/api/runs", params={"label": label}, headers=http_headers(SEARCHER))
        assert response.status_code == 400 and fields_of(response.json()) == ["label"], label
    too_long = await platform.http.get("/api/runs", params={"q": "x" * 121}, headers=http_headers(SEARCHER))
    assert too_long.status_code == 400 and fields_of(too_long.json()) == ["q"]
    for text in ('name = "x"', 'labels.Bad = "x"', 'labels.a:"x"', 'status:"running"', 'name:"a" OR name:"b"'):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.runs.ListRuns(
                runs_service_pb2.ListRunsRequest(filter=text), metadata=email_metadata(SEARCHER)
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, text


async def test_a_quoted_and_is_part_of_the_term(platform, runs_service) -> None:
    owner = "and-owner@example.com"
    await insert_run(runs_service, owner, name="salt AND pepper")
    await insert_run(runs_service, owner, name="salt")
    assert await list_names(platform, owner, q="salt AND pepper") == ["salt AND pepper"]


async def test_stranger_finds_nothing_and_admin_finds_everything(platform, searchable) -> None:
    assert await list_names(platform, STRANGER, q="liver") == []
    assert await list_names(platform, STRANGER, label="team:onc") == []
    assert await list_names(platform, STRANGER, q="liver", user=SEARCHER) == []
    admin = await list_names(platform, ADMIN, q="liver", label="team:onc", user=SEARCHER)
    assert set(admin) == {"Liver Atlas batch 1", "liver atlas batch 2"}
    everyone = await list_names(platform, ADMIN, q="LIVER")  # every owner's runs
    assert {"Liver Atlas batch 1", "liver atlas batch 2"} <= set(everyone)


async def test_purged_runs_are_hidden_unless_asked_for(platform, runs_service) -> None:
    owner = "purge-list@example.com"
    kept = await insert_run(runs_service, owner, name="kept run")
    purged = await insert_run(runs_service, owner, name="purged run")
    await runs_service.store.pool.execute("UPDATE runs SET purged_at = now() WHERE run_id = $1", purged)
    assert await list_names(platform, owner) == ["kept run"]
    assert (await platform.http.get("/api/runs", headers=http_headers(owner))).json()["total"] == 1
    assert set(await list_names(platform, owner, include_purged="true")) == {"kept run", "purged run"}
    assert await list_names(platform, owner, q="run") == ["kept run"]
    meta = email_metadata(owner)
    default = await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(), metadata=meta)
    assert [r.run_id for r in default.runs] == [kept]
    shown = await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(show_purged=True), metadata=meta)
    assert {r.run_id for r in shown.runs} == {kept, purged} and shown.total_size == 2
    assert next(r for r in shown.runs if r.run_id == purged).HasField("purged_at")


async def test_page_tokens_are_bound_to_the_whole_filter(platform, runs_service) -> None:
    owner = "token-filter@example.com"
    for i in range(3):
        await insert_run(runs_service, owner, name=f"paged {i}", labels={"set": "a"})
    meta = email_metadata(owner)
    first = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(page_size=1, filter='name:"paged"'), metadata=meta
    )
    assert first.next_page_token and first.total_size == 3
    following = await platform.runs.ListRuns(
        runs_service_pb2.ListRunsRequest(page_size=5, filter='name:"paged"', page_token=first.next_page_token),
        metadata=meta,
    )
    assert len(following.runs) == 2 and first.runs[0].run_id not in {r.run_id for r in following.runs}
    for other in (
        runs_service_pb2.ListRunsRequest(filter='name:"paged 1"', page_token=first.next_page_token),
        runs_service_pb2.ListRunsRequest(filter='name:"paged" AND labels.set = "a"', page_token=first.next_page_token),
        runs_service_pb2.ListRunsRequest(filter='name:"paged"', show_purged=True, page_token=first.next_page_token),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.runs.ListRuns(other, metadata=meta)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_search_answers_the_same_with_and_without_the_trigram_index(platform, runs_service, searchable) -> None:
    """The store reads a dense term in created_at order and a rare one through the trigram index; which one
    it picks follows the planner's statistics, so both must give the same runs. A fresh table has none (the
    index is used); after ANALYZE "liver" is in most of these names (read in order)."""
    before = {q: set(await list_names(platform, SEARCHER, q=q)) for q in ("liver", "atlas batch", "100%", "zzz")}
    await runs_service.store.pool.execute("ANALYZE runs")
    after = {q: set(await list_names(platform, SEARCHER, q=q)) for q in before}
    assert after == before
    assert after["liver"] == {"Liver Atlas batch 1", "liver atlas batch 2"} and after["zzz"] == set()


async def test_more_label_terms_than_a_run_can_carry_are_400(platform) -> None:
    """A run carries at most 64 labels: a filter of more terms matches nothing and only costs the database."""
    many = " AND ".join(f'labels.k{i} = "v"' for i in range(65))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(filter=many), metadata=email_metadata(SEARCHER))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    labels = [f"k{i}:v" for i in range(65)]
    response = await platform.http.get("/api/runs", params={"label": labels}, headers=http_headers(SEARCHER))
    assert response.status_code == 400, response.text
    assert await list_names(platform, SEARCHER, label=labels[:64]) == []
