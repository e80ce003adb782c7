"""What every response model shares: the base class, timestamps, the page envelope's fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A google.protobuf.Timestamp as proto3 JSON writes it (RFC 3339 in UTC, `Z`): kept as the text the
# converters produce, never parsed and written again (which could change its digits).
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-01-01T12:00:00Z"])]

# The list envelope of the paged routes (`gateway.paging.page_body`), after the page's items.
Total = Annotated[int, Field(description="items matching the filters, across all pages")]
PageNumber = Annotated[int, Field(description="the 1-based page asked for")]
PageSize = Annotated[int, Field(description="items per page asked for")]
NextPageToken = Annotated[
    str | None, Field(description="pass as `page_token` to get the next page; null on the last page")
]


class ResponseModel(BaseModel):
    """Base of every response body: the JSON has exactly these keys."""

    model_config = ConfigDict(extra="forbid")
