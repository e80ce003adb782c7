"""The one paging rule and page-token format every list RPC uses (``arc_core.paging``)."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

import pytest

from arc_core import paging
from arc_core.errors import InvalidArgument
from arc_core.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_offset,
    decode_token,
    encode_offset,
    encode_token,
    page_size_of,
    paginate,
    query_key,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused(token: str, query: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        decode_token(token, query)
    assert [v.field for v in info.value.violations] == ["page_token"]
    assert info.value.reason == "INVALID_PAGE_TOKEN"
    return info.value


def test_page_size_rule() -> None:
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (50, 500)
    assert page_size_of(0) == DEFAULT_PAGE_SIZE
    assert page_size_of(1) == 1 and page_size_of(MAX_PAGE_SIZE) == MAX_PAGE_SIZE
    assert page_size_of(MAX_PAGE_SIZE + 1) == MAX_PAGE_SIZE and page_size_of(2**31 - 1) == MAX_PAGE_SIZE  # clamped
    with pytest.raises(InvalidArgument) as info:
        page_size_of(-1)
    assert [v.field for v in info.value.violations] == ["page_size"]


def test_round_trip_keyset_and_offset() -> None:
    query = query_key("ListRuns", "running", None, "a@example.com")
    position = {"c": "2026-12-03T08:00:00+00:00", "r": "run-1a2b3c4d", "t": 12}
    token = encode_token(query, position)
    assert decode_token(token, query) == position
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # url-safe, no padding
    assert decode_offset(encode_offset(1234, query), query) == 1234
    assert decode_offset("", query) == 0
    assert not encode_offset(7, query).isdecimal()  # opaque, not a bare integer
    with pytest.raises(ValueError):
        encode_offset(-1, query)


def test_query_key_binds_the_list_and_its_filters() -> None:
    assert query_key("ListTasks", "run-1", "FAILED", "") == query_key("ListTasks", "run-1", "FAILED", "")
    keys = {
        query_key("ListTasks", "run-1", "FAILED", ""),
        query_key("ListTasks", "run-1", "COMPLETED", ""),
        query_key("ListTasks", "run-2", "FAILED", ""),
        query_key("ListRuns", "run-1", "FAILED", ""),
        query_key("ListTasks", "run-1", "FAILED", None),
    }
    assert len(keys) == 5


def test_token_of_another_query_or_list_is_refused() -> None:
    tasks = query_key("ListTasks", "run-1", "FAILED", "")
    token = encode_offset(10, tasks)
    error = _refused(token, query_key("ListTasks", "run-1", "COMPLETED", ""))
    assert error.message == "page_token does not match the request"
    assert _refused(token, query_key("ListPipelines")).message == "page_token does not match the request"


@pytest.mark.parametrize(
    "token",
    [
        "%%%",
        "abc",
        "7",  # a bare integer, as ListPipelines' tokens were
        "A" * (paging.MAX_TOKEN_CHARS + 1),
        _b64(b"not json"),
        _b64(b"[1, 2]"),
        _b64(json.dumps({"v": 2, "q": "x", "p": {}}).encode()),  # another version
        _b64(json.dumps({"v": 1, "q": 5, "p": {}}).encode()),
        _b64(json.dumps({"v": 1, "q": "x", "p": [1]}).encode()),
        _b64("é".encode("latin-1")),
    ],
)
def test_garbage_is_refused(token: str) -> None:
    error = _refused(token, "x")
    assert error.message == "invalid page_token"


@pytest.mark.parametrize("offset", [-1, "5", 1.5, None, True])
def test_tampered_offset_is_refused(offset: object) -> None:
    token = encode_token("q", {"o": offset})
    with pytest.raises(InvalidArgument) as info:
        decode_offset(token, "q")
    assert [v.field for v in info.value.violations] == ["page_token"]


def test_paginate_walks_every_item_once() -> None:
    items = list(range(1234))
    query = query_key("ListTasks", "run-1", "", "")
    seen: list[int] = []
    token = ""
    pages = 0
    while True:
        page = paginate(items, 100, token, query)
        assert page.total_size == 1234
        seen.extend(page.items)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == items and pages == 13
    assert len(paginate(items, 0, "", query).items) == DEFAULT_PAGE_SIZE
    assert len(paginate(items, 10**6, "", query).items) == MAX_PAGE_SIZE
    assert paginate(items, 10, "", query, skip=1230).items == [1230, 1231, 1232, 1233]
    assert paginate(items, 10, "", query, skip=5000).items == []
    empty = paginate([], 10, "", query)
    assert empty.items == [] and empty.next_page_token == "" and empty.total_size == 0
    with pytest.raises(InvalidArgument):
        paginate(items, -1, "", query)
    with pytest.raises(InvalidArgument):
        paginate(items, 10, "", query, skip=-1)
    with pytest.raises(InvalidArgument):
        paginate(items, 10, paginate(items, 10, "", query).next_page_token, query_key("ListTasks", "run-2", "", ""))


def test_one_home_for_paging() -> None:
    """No list keeps its own page-size bounds or token format: a second definition fails here."""
    root = Path(__file__).resolve().parents[2]
    home = root / "arc_core" / "paging.py"
    found = []
    for folder in ("arc_core", "arc_platform", "gateway", "orchestrator", "services"):
        for path in sorted((root / folder).rglob("*.py")):
            if path == home:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                targets = node.targets if isinstance(node, ast.Assign) else []
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.append(node.target.id)
                found += [f"{path.relative_to(root)}:{node.lineno} {n}" for n in names if n.endswith("PAGE_SIZE")]
            text = path.read_text()
            if "page_token" in text and "urlsafe_b64" in text:
                found.append(f"{path.relative_to(root)}: encodes page tokens itself")
    assert found == []
