"""Who is calling: dev-mode headers, a verified IAP JWT, a Google ID token of a service account, or one
of the platform's own services calling for itself (see :mod:`arc_core.service_identity`).

The gateway forwards the browser's identity headers as gRPC metadata (lower-cased names); each
service verifies them again, so no service trusts another blindly. Verification keys are fetched
asynchronously and cached; the JWT checks themselves are CPU-only and run inline.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import google.auth.transport
import httpx

from arc_core.errors import PermissionDenied, Unauthenticated, Unavailable
from arc_core.service_identity import (
    INTERNAL_METHODS,
    SERVICE_CREDENTIAL_HEADER,
    credential_key,
    is_internal_email,
    verify_process_credential,
)
from arc_core.settings import Settings

USER_EMAIL_HEADER = "x-goog-authenticated-user-email"
IAP_JWT_HEADER = "x-goog-iap-jwt-assertion"
AUTHORIZATION_HEADER = "authorization"
# Set by the gateway on every call it forwards: an internal principal (a service's own ID token) never comes
# through the gateway, so a leaked service token cannot be used from a browser or a script over REST.
VIA_GATEWAY_HEADER = "x-arc-via-gateway"
RUN_TOKEN_HEADER = "x-arc-run-token"
DEV_DEFAULT_EMAIL = "dev@example.com"
IAP_ISSUER = "https://cloud.google.com/iap"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
IDENTITY_HEADERS = (USER_EMAIL_HEADER, IAP_JWT_HEADER, AUTHORIZATION_HEADER)


@dataclass(frozen=True)
class Identity:
    """The authenticated caller of one request."""

    email: str
    is_admin: bool = False
    display_name: str = ""
    is_service: bool = False
    # One of the platform's own services calling for itself: reads any run, on INTERNAL_METHODS only.
    is_internal: bool = False
    # The headers the identity came from, to forward when calling another service on its behalf.
    credentials: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def can_see(self, owner_email: str) -> bool:
        return self.is_admin or self.is_internal or self.email == owner_email.lower()


def strip_iap_prefix(value: str) -> str:
    """IAP sets ``accounts.google.com:alice@example.com``; keep the address."""
    _, _, email = value.rpartition(":")
    return email.strip().lower()


class _CachedCertsRequest(google.auth.transport.Request):
    """A ``google.auth.transport.Request`` that answers from certificates fetched beforehand."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        body = self._body

        class _Response:
            status = 200
            headers: dict[str, str] = {}
            data = body

        return _Response()


class KeyCache:
    """Verification keys by URL, refreshed after ``ttl`` seconds; one fetch at a time per URL."""

    def __init__(self, ttl: float = 3600.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, url: str) -> bytes:
        entry = self._entries.get(url)
        if entry and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        async with self._locks.setdefault(url, asyncio.Lock()):
            entry = self._entries.get(url)
            if entry and time.monotonic() - entry[0] < self.ttl:
                return entry[1]
            try:
                async with httpx.AsyncClient(timeout=10.0) as client:
                    response = await client.get(url)
                    response.raise_for_status()
            except httpx.HTTPError as exc:
                raise Unavailable(f"cannot fetch token verification keys: {exc}") from exc
            try:
                json.loads(response.content)  # refuse to cache garbage
            except ValueError as exc:
                raise Unavailable(f"cannot fetch token verification keys: {url} did not answer JSON") from exc
            self._entries[url] = (time.monotonic(), response.content)
            return response.content


class Authenticator:
    """Turns request metadata into an :class:`Identity`, or raises ``Unauthenticated``."""

    def __init__(self, settings: Settings, keys: KeyCache | None = None) -> None:
        self.settings = settings
        self.keys = keys or KeyCache()
        self._credential_key = credential_key(settings)

    def _identity(
        self, email: str, *, credentials: tuple[tuple[str, str], ...], service: bool = False, internal: bool = False
    ) -> Identity:
        email = email.lower()
        if is_internal_email(email) and not internal:
            raise Unauthenticated(f"{email} is reserved for the platform's own services")
        # A service account allowed to call is a caller like any other: an admin only when listed as one.
        is_admin = email in self.settings.admin_emails and not internal
        return Identity(
            email=email, is_admin=is_admin, is_service=service, is_internal=internal, credentials=credentials
        )

    async def authenticate(self, metadata: Mapping[str, str], method: str | None = None) -> Identity:
        """The caller of ``method`` (the gRPC method's full name); an internal principal only on
        :data:`INTERNAL_METHODS` (so never when the method is not given)."""
        identity = await self._authenticate(metadata)
        if identity.is_internal and VIA_GATEWAY_HEADER in metadata:
            raise PermissionDenied(f"{identity.email} is one of the platform's own services: not a REST caller")
        if identity.is_internal and method not in INTERNAL_METHODS:
            raise PermissionDenied(f"{identity.email} may not call {method or 'this method'}")
        return identity

    async def _authenticate(self, metadata: Mapping[str, str]) -> Identity:
        credential = metadata.get(SERVICE_CREDENTIAL_HEADER)
        if credential is not None:
            principal = verify_process_credential(credential, self._credential_key)
            if principal is None:
                raise Unauthenticated("invalid service credential")
            return self._identity(
                principal, credentials=((SERVICE_CREDENTIAL_HEADER, credential),), service=True, internal=True
            )
        bearer = metadata.get(AUTHORIZATION_HEADER, "")
        if bearer.lower().startswith("bearer ") and self.settings.id_token_audience:
            return await self._verify_id_token(bearer[7:].strip())
        if self.settings.auth_mode == "dev":
            raw = metadata.get(USER_EMAIL_HEADER, "")
            email = strip_iap_prefix(raw) if raw else DEV_DEFAULT_EMAIL
            if "@" not in email:
                raise Unauthenticated(f"{USER_EMAIL_HEADER} is not an email address")
            return self._identity(email, credentials=((USER_EMAIL_HEADER, f"accounts.google.com:{email}"),))
        assertion = metadata.get(IAP_JWT_HEADER, "")
        if not assertion:
            raise Unauthenticated(f"missing {IAP_JWT_HEADER}")
        return await self._verify_iap(assertion)

    async def _decode(self, token: str, *, certs_url: str, audience: str) -> dict[str, object]:
        from google.oauth2 import id_token

        certs = await self.keys.get(certs_url)
        try:
            claims = dict(
                id_token.verify_token(token, _CachedCertsRequest(certs), audience=audience, certs_url=certs_url)
            )
        except Exception as exc:  # google-auth and PyJWT raise several unrelated types
            raise Unauthenticated(f"invalid token: {exc}") from None
        # With JWK keys (IAP) PyJWT checks `exp` and `iat` only when present: a token must carry both.
        if "exp" not in claims or "iat" not in claims:
            raise Unauthenticated("invalid token: no exp or iat")
        return claims

    async def _verify_iap(self, assertion: str) -> Identity:
        claims = await self._decode(
            assertion, certs_url=self.settings.iap_certs_url, audience=self.settings.iap_audience
        )
        if claims.get("iss") != IAP_ISSUER:
            raise Unauthenticated("invalid token: wrong issuer")
        hosted_domain = self.settings.iap_hosted_domain
        if hosted_domain and claims.get("hd") != hosted_domain:
            raise Unauthenticated("invalid token: wrong hosted domain")
        email = str(claims.get("email") or "")
        if "@" not in email:
            raise Unauthenticated("invalid token: no email")
        return self._identity(email, credentials=((IAP_JWT_HEADER, assertion),))

    async def _verify_id_token(self, token: str) -> Identity:
        claims = await self._decode(
            token, certs_url=self.settings.id_token_certs_url, audience=self.settings.id_token_audience
        )
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise Unauthenticated("invalid token: wrong issuer")
        email = str(claims.get("email") or "").lower()
        internal = email in self.settings.internal_service_accounts
        if not claims.get("email_verified") or not (internal or email in self.settings.service_account_emails):
            raise Unauthenticated("invalid token: not an allowed service account")
        return self._identity(
            email, credentials=((AUTHORIZATION_HEADER, f"Bearer {token}"),), service=True, internal=internal
        )
