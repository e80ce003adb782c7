"""Who the client says it is: the dev identity header, or a Google ID token (service accounts, IAP)."""

from __future__ import annotations

import asyncio
from typing import Any

from arc_core.identity import AUTHORIZATION_HEADER, USER_EMAIL_HEADER

Metadata = tuple[tuple[str, str], ...]


def dev_identity(email: str) -> Metadata:
    """``--as EMAIL``: what the gateway forwards in dev mode (``ARC_AUTH_MODE=dev``)."""
    return ((USER_EMAIL_HEADER, f"accounts.google.com:{email}"),)


class IdTokenSource:
    """A Google ID token for ``audience`` from the ambient credentials (a service account key in
    ``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server on GCP), refreshed before it expires.

    google-auth is synchronous: a refresh runs in a worker thread, one at a time."""

    def __init__(self, audience: str, *, credentials: Any = None) -> None:
        if not audience:
            raise ValueError("an ID token needs an audience (ARC_ID_TOKEN_AUDIENCE or the IAP client id)")
        self.audience = audience
        self._credentials = credentials
        self._lock = asyncio.Lock()

    def _refresh(self) -> None:
        import google.auth.transport.requests
        import google.oauth2.id_token

        request = google.auth.transport.requests.Request()
        if self._credentials is None:
            self._credentials = google.oauth2.id_token.fetch_id_token_credentials(self.audience, request=request)
        self._credentials.refresh(request)

    async def token(self) -> str:
        async with self._lock:
            if self._credentials is None or not self._credentials.valid:  # `valid` allows for clock skew
                await asyncio.to_thread(self._refresh)
            return str(self._credentials.token)

    async def metadata(self) -> Metadata:
        return ((AUTHORIZATION_HEADER, f"Bearer {await self.token()}"),)
