"""How the platform's own services identify themselves when they call each other for themselves.

A call a service makes on its own account (the WatchRun progress poller asking Logs for a run's task
counts; Logs following a run's status while a caller's log stream goes on) must not borrow a user's
forwarded identity: an IAP JWT expires after about ten minutes, and the user who started the poll may
leave while others still watch. Such calls carry a *service credential*:

* **Process credential** (one-process mode, any auth mode): ``x-arc-service-credential: PRINCIPAL:MAC``,
  the MAC an HMAC-SHA256 of the principal under 32 random bytes made once per process. The key never
  leaves the process, so only this process can mint one, and only this process accepts it (the callee
  is on loopback in the same process). The principal is ``SERVICE@arc.internal``, e.g. ``runs@arc.internal``.
  Pods of one deployment without ID tokens (outside GKE) may share a key instead: one derived from
  ``ARC_SERVICE_CREDENTIAL_SECRET``, known to them alone.
* **Google ID token** (``ARC_ID_TOKEN_AUDIENCE`` set, in any auth mode: one pod per service): the
  service account's ID token for that audience, fetched with google-auth from the metadata server
  (Workload Identity) in a thread, cached until five minutes before it expires, sent as
  ``authorization: Bearer``. The callee treats it as internal when its email is in
  ``ARC_INTERNAL_SERVICE_ACCOUNTS``.

An internal principal may *read* any run (``Identity.is_internal``; it is never an admin), and only
through :data:`INTERNAL_METHODS`: the authenticator refuses it on every other method. A dev header or an
IAP JWT can never name an ``@arc.internal`` principal, and the gateway never forwards
``x-arc-service-credential``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from arc_core.errors import Unavailable
from arc_core.settings import Settings

SERVICE_CREDENTIAL_HEADER = "x-arc-service-credential"
AUTHORIZATION_HEADER = "authorization"
INTERNAL_DOMAIN = "arc.internal"
# The RPCs a service calls on its own account: the progress poller's ListTasks (and the GetRun Logs makes
# with the identity it was called with), and the GetRun / WatchRun with which Logs follows a run's status
# while a caller's stream goes on. Nothing that changes a run.
INTERNAL_METHODS = frozenset(
    {"/arc.logs.v1.LogsService/ListTasks", "/arc.runs.v1.RunsService/GetRun", "/arc.runs.v1.RunsService/WatchRun"}
)

_PROCESS_KEY = secrets.token_bytes(32)  # made at import, i.e. once per process; never written anywhere


def internal_principal(service: str) -> str:
    return f"{service}@{INTERNAL_DOMAIN}"


def is_internal_email(email: str) -> bool:
    return email.strip().lower().endswith("@" + INTERNAL_DOMAIN)


def credential_key(settings: Settings | None = None) -> bytes:
    """The key process credentials are signed with: this process's own, or the deployment's shared one."""
    secret = settings.service_credential_secret.get_secret_value() if settings is not None else ""
    if not secret:
        return _PROCESS_KEY
    return hashlib.sha256(b"arc-service-credential\0" + secret.encode()).digest()


def _mac(principal: str, key: bytes) -> str:
    return hmac.new(key, principal.encode(), hashlib.sha256).hexdigest()


def mint_process_credential(principal: str, key: bytes = _PROCESS_KEY) -> str:
    return f"{principal}:{_mac(principal, key)}"


def verify_process_credential(value: str, key: bytes = _PROCESS_KEY) -> str | None:
    """The principal of a credential minted with ``key`` (by default, by this process), or None."""
    principal, sep, mac = value.strip().rpartition(":")
    if not sep or not is_internal_email(principal):
        return None
    return principal if hmac.compare_digest(mac, _mac(principal, key)) else None


class ServiceCredential(Protocol):
    """Metadata that identifies this service (not any user) on a call it makes for itself."""

    async def metadata(self) -> tuple[tuple[str, str], ...]: ...


class ProcessCredential:
    def __init__(self, service: str, key: bytes = _PROCESS_KEY) -> None:
        self.principal = internal_principal(service)
        self._value = mint_process_credential(self.principal, key)

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((SERVICE_CREDENTIAL_HEADER, self._value),)


def _fetch_google_id_token(audience: str) -> str:
    """Blocking: the ID token of this workload's service account (metadata server or key file)."""
    import google.auth.transport.requests
    from google.oauth2 import id_token

    return str(id_token.fetch_id_token(google.auth.transport.requests.Request(), audience))


def _expiry(token: str) -> float:
    from google.auth import jwt

    claims = jwt.decode(token, verify=False)
    return float(claims.get("exp") or 0)


class GoogleIdTokenCredential:
    """A Google ID token for ``audience``, fetched in a thread and reused until ``margin`` before expiry."""

    def __init__(
        self, audience: str, *, margin: float = 300.0, fetch: Callable[[str], str] = _fetch_google_id_token
    ) -> None:
        self.audience = audience
        self.margin = margin
        self._fetch = fetch
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return bool(self._token) and time.time() < self._expires - self.margin

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    try:
                        token = await asyncio.to_thread(self._fetch, self.audience)
                        expires = _expiry(token)
                    except Exception as exc:  # google-auth raises several unrelated types
                        raise Unavailable(f"cannot get this service's ID token: {exc}") from None
                    self._token, self._expires = token, expires
        return ((AUTHORIZATION_HEADER, f"Bearer {self._token}"),)


def service_credential(settings: Settings, service: str) -> ServiceCredential:
    """A Google ID token when services run apart (``ARC_ID_TOKEN_AUDIENCE`` is set: both k8s overlays, on
    GKE's Workload Identity), else the process's own."""
    if settings.id_token_audience:
        return GoogleIdTokenCredential(settings.id_token_audience)
    return ProcessCredential(service, credential_key(settings))
