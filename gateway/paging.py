"""REST paging on top of AIP paging: ``page``/``page_size`` (the spec) or ``page_token`` (cheaper deep down)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from arc_core.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]  # the services' rule (arc_core.paging), re-exported for routes

# Bounds on paging query parameters, so an out-of-range integer is a 400 and never reaches a service
# (the skip it makes must fit the protos' int32: MAX_PAGE * MAX_PAGE_SIZE < 2**31). A page size above the
# services' cap is a 400 too, not clamped as over gRPC: `page=N` skips (N - 1) * page_size rows and the body
# echoes page_size, so a silently smaller page would address the wrong rows.
MAX_PAGE = 1_000_000
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
# Routes that address pages by number (`page`): the size the skip is computed with, so never 0.
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}")]
# Token-only routes: 0 = the service's default page size.
ServicePageSize = Annotated[
    int, Query(ge=0, le=MAX_PAGE_SIZE, description=f"items per page; 0 = default ({DEFAULT_PAGE_SIZE})")
]
# Stream positions (a log's byte offset, an event's sequence) are int64 in the protos: a larger one is a 400
# here, not a protobuf ValueError (a 500) when the request is built.
MAX_INT64 = 2**63 - 1
ByteOffset = Annotated[int, Query(ge=0, le=MAX_INT64, description="byte offset in the log")]
OptionalByteOffset = Annotated[int | None, Query(ge=0, le=MAX_INT64, description="byte offset to resume from")]
EventSequence = Annotated[int | None, Query(ge=0, le=MAX_INT64, description="the last event sequence seen")]


def position_number(value: str | None) -> int:
    """A resume position given as text (``Last-Event-ID``) as an int64: garbage is 0 (from the start), and
    a number past int64 is the largest one (past the end, as any position beyond the last one is)."""
    try:
        number = int(value or 0)
    except ValueError:
        return 0
    return min(max(0, number), MAX_INT64)


def skip_for(page: int, page_size: int, page_token: str | None) -> int:
    """Rows the service should skip: a token already says where to start."""
    return 0 if page_token else (page - 1) * page_size


def page_body(key: str, items: list[Any], response: Any, *, page: int, page_size: int) -> dict[str, Any]:
    """The list envelope every paged route returns."""
    return {
        key: items,
        "total": response.total_size,
        "page": page,
        "page_size": page_size,
        "next_page_token": response.next_page_token or None,
    }
