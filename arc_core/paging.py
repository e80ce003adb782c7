"""One paging rule and one page-token format for every list RPC (AIP-158).

The rule, the same for ``ListRuns``, ``ListTasks``, ``ListPipelines`` and ``ListNgsRuns``:

* ``page_size`` 0 (unset) is :data:`DEFAULT_PAGE_SIZE`; above :data:`MAX_PAGE_SIZE` it is clamped to it
  (AIP-158: "coerce down"); negative is ``INVALID_ARGUMENT``. The gateway refuses a REST ``page_size``
  above the cap with a 400 instead, as it refuses every out-of-range integer: REST addresses ``page=N``
  with ``(N - 1) * page_size`` rows skipped and echoes ``page_size``, so a silently clamped size would
  address the wrong rows.
* ``page_token`` is opaque: urlsafe base64 (no padding) of ``{"v": 1, "q": <query key>, "p": <position>}``.
  The position is whatever the list resumes from (an offset, or a keyset ``(created_at, id)``); the query
  key binds the token to the list and the filters it was issued for (:func:`query_key`), so a token used
  with another list or other filters is ``INVALID_ARGUMENT`` "page_token does not match the request".
  An empty ``next_page_token`` is the only end signal.

A token is not a secret and carries no authority: every page checks access again, so a forged position
shows nothing the caller could not list anyway. Nothing here does I/O or imports grpc.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from arc_core.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
"""Items per page when ``page_size`` is 0."""
MAX_PAGE_SIZE = 500
"""The largest page; a larger ``page_size`` is clamped to it."""
MAX_TOKEN_CHARS = 1024
"""Longer is not a token this module made (ours are under 200 characters)."""
TOKEN_VERSION = 1
INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
"""``ErrorInfo.reason`` of a refused token."""

T = TypeVar("T")


def page_size_of(requested: int) -> int:
    """The page size to serve for a request's ``page_size``: 0 is the default, above the cap the cap."""
    if requested < 0:
        raise InvalidArgument("invalid page_size", [FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def query_key(list_name: str, *parts: object) -> str:
    """A short stable digest of a list (``"ListRuns"``) and the query a token continues (its filters,
    normalised the way the list compares them). Parts are JSON-encoded; anything else goes through ``str``."""
    raw = json.dumps([list_name, *parts], default=str, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _not_ours() -> InvalidArgument:
    return InvalidArgument(
        "invalid page_token",
        [FieldViolation("page_token", "is not a page token issued by this service")],
        reason=INVALID_PAGE_TOKEN,
    )


def encode_token(query: str, position: Mapping[str, Any]) -> str:
    """The opaque token that resumes the list keyed ``query`` (:func:`query_key`) at ``position``."""
    raw = json.dumps({"v": TOKEN_VERSION, "q": query, "p": dict(position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, query: str) -> dict[str, Any]:
    """The position in a token made by :func:`encode_token` for the same ``query``.

    Raises ``InvalidArgument`` (field ``page_token``) for anything else: garbage, another version, or a
    token issued for another list or other filters. The caller still checks the position's own fields.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise _not_ours()
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _not_ours() from None
    if (
        not isinstance(body, dict)
        or body.get("v") != TOKEN_VERSION
        or not isinstance(body.get("q"), str)
        or not isinstance(body.get("p"), dict)
    ):
        raise _not_ours()
    if body["q"] != query:
        raise InvalidArgument(
            "page_token does not match the request",
            [FieldViolation("page_token", "was issued for another list or other filters")],
            reason=INVALID_PAGE_TOKEN,
        )
    return body["p"]


def bad_position() -> InvalidArgument:
    """The error for a token that decodes but whose position a list cannot use (tampered with)."""
    return _not_ours()


def encode_offset(offset: int, query: str) -> str:
    """The token of an offset-based list: the next page starts ``offset`` items in."""
    if offset < 0:
        raise ValueError("offset must be >= 0")
    return encode_token(query, {"o": offset})


def decode_offset(token: str, query: str) -> int:
    """The offset in a token made by :func:`encode_offset`; ``""`` is the first page (0)."""
    if not token:
        return 0
    offset = decode_token(token, query).get("o")
    if type(offset) is not int or offset < 0:
        raise _not_ours()
    return offset


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of items, the token of the next page (``""`` at the end) and the total count."""

    items: list[T]
    next_page_token: str
    total_size: int


def paginate(items: Sequence[T], page_size: int, page_token: str, query: str, *, skip: int = 0) -> Page[T]:
    """One page of an in-memory list: from the token's offset, or ``skip`` items in without a token.

    Offsets stay valid while a list only grows at its end (a trace: rows are appended and a rewritten task
    keeps its position), so bind tokens to the query, not to a version of the data.
    """
    size = page_size_of(page_size)
    if skip < 0:
        raise InvalidArgument("invalid skip", [FieldViolation("skip", "must not be negative")])
    start = decode_offset(page_token, query) if page_token else skip
    end = start + size
    chunk = list(items[start:end])
    return Page(chunk, encode_offset(end, query) if end < len(items) else "", len(items))
