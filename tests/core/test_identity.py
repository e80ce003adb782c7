"""Identity: dev-mode headers, IAP JWTs and Google ID tokens verified against keys served over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError

from arc_core.errors import PermissionDenied, Unauthenticated, Unavailable
from arc_core.identity import (
    AUTHORIZATION_HEADER,
    DEV_DEFAULT_EMAIL,
    IAP_ISSUER,
    IAP_JWT_HEADER,
    USER_EMAIL_HEADER,
    Authenticator,
    Identity,
    KeyCache,
    strip_iap_prefix,
)
from arc_core.service_identity import (
    SERVICE_CREDENTIAL_HEADER,
    GoogleIdTokenCredential,
    ProcessCredential,
    credential_key,
    mint_process_credential,
    service_credential,
    verify_process_credential,
)
from arc_core.settings import Settings, load_settings

IAP_AUDIENCE = "/projects/123456/global/backendServices/987654"
ID_AUDIENCE = "https://arc.example.com"
ROBOT = "orchestrator@arc-prod.iam.gserviceaccount.com"


def make_settings(**overrides: Any) -> Settings:
    """Settings from these values only: no `.env`, and explicit values win over ARC_* variables."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


# --- A real HTTP server for the verification keys ---------------------------------------------------------


class KeyServer:
    """Serves JSON documents by path on 127.0.0.1 and counts the requests it answers."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests[self.path] += 1
                body = server.documents.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="key-server", daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, document: object) -> str:
        self.documents[path] = document if isinstance(document, bytes) else json.dumps(document).encode()
        return self.url(path)

    def __enter__(self) -> KeyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeyServer]:
    with KeyServer() as server:
        yield server


_paths = iter(range(1_000_000))


def unique_path(name: str) -> str:
    """Each test serves its keys on a path of its own, so request counts never mix."""
    return f"/{name}/{next(_paths)}"


# --- Keys and tokens -------------------------------------------------------------------------------------


class EsKey:
    """An ES256 key as IAP uses, published as a JWK."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict[str, Any]:
        return {
            **ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        }

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": kid or self.kid})


class RsaKey:
    """An RS256 key as Google's OAuth2 signer uses, published as an x509 certificate."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def certificate_pem(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.googleusercontent.com")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.private, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def iap_key() -> EsKey:
    return EsKey("iap-key-1")


@pytest.fixture(scope="module")
def google_key() -> RsaKey:
    return RsaKey("google-key-1")


def iap_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": IAP_ISSUER,
        "aud": IAP_AUDIENCE,
        "sub": "accounts.google.com:1234567890",
        "email": "Alice@Example.com",
        "hd": "example.com",
        "iat": now - 10,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def id_token_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": ID_AUDIENCE,
        "azp": "1122334455",
        "sub": "1122334455",
        "email": ROBOT,
        "email_verified": True,
        "iat": now - 10,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def iap_auth(key_server: KeyServer, iap_key: EsKey) -> Authenticator:
    """iap mode with the IAP keys (one ES256 key plus a decoy) served as a JWK set."""
    decoy = EsKey("iap-key-0")
    url = key_server.serve(unique_path("iap"), {"keys": [decoy.jwk(), iap_key.jwk()]})
    return Authenticator(
        make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, iap_certs_url=url, admin_emails="boss@example.com")
    )


# --- dev mode ----------------------------------------------------------------------------------------------


def test_strip_iap_prefix() -> None:
    assert strip_iap_prefix("accounts.google.com:Alice@Example.com") == "alice@example.com"
    assert strip_iap_prefix(" bob@example.com ") == "bob@example.com"


async def test_dev_mode_takes_the_header() -> None:
    auth = Authenticator(make_settings(auth_mode="dev"))
    identity = await auth.authenticate({USER_EMAIL_HEADER: "accounts.google.com:Alice@Example.com"})
    assert identity.email == "alice@example.com"
    assert not identity.is_admin
    assert not identity.is_service
    assert identity.credentials == ((USER_EMAIL_HEADER, "accounts.google.com:alice@example.com"),)


async def test_dev_mode_defaults_to_the_dev_user() -> None:
    auth = Authenticator(make_settings(auth_mode="dev"))
    identity = await auth.authenticate({})
    assert identity.email == DEV_DEFAULT_EMAIL == "dev@example.com"
    assert not identity.is_admin


async def test_dev_mode_admins_come_from_settings() -> None:
    auth = Authenticator(make_settings(auth_mode="dev", admin_emails=" Boss@Example.com , ops@example.com,"))
    assert auth.settings.admin_emails == frozenset({"boss@example.com", "ops@example.com"})
    boss = await auth.authenticate({USER_EMAIL_HEADER: "accounts.google.com:boss@example.com"})
    assert boss.is_admin
    assert boss.can_see("someone@example.com")
    alice = await auth.authenticate({USER_EMAIL_HEADER: "accounts.google.com:alice@example.com"})
    assert not alice.is_admin
    assert alice.can_see("Alice@Example.com")
    assert not alice.can_see("bob@example.com")


@pytest.mark.parametrize("value", ["accounts.google.com:alice", "alice", "accounts.google.com:"])
async def test_dev_mode_refuses_a_non_email(value: str) -> None:
    auth = Authenticator(make_settings(auth_mode="dev"))
    with pytest.raises(Unauthenticated):
        await auth.authenticate({USER_EMAIL_HEADER: value})


async def test_dev_mode_ignores_an_iap_assertion() -> None:
    auth = Authenticator(make_settings(auth_mode="dev"))
    identity = await auth.authenticate({IAP_JWT_HEADER: "not-checked-in-dev-mode"})
    assert identity.email == DEV_DEFAULT_EMAIL


# --- settings ----------------------------------------------------------------------------------------------


def test_dev_auth_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARC_ENVIRONMENT", "production")
    monkeypatch.setenv("ARC_AUTH_MODE", "dev")
    with pytest.raises(ValidationError, match="ARC_AUTH_MODE=dev is refused when ARC_ENVIRONMENT=production"):
        load_settings(_env_file=None)


def test_production_defaults_to_dev_auth_and_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARC_AUTH_MODE", raising=False)
    with pytest.raises(ValidationError, match="refused"):
        make_settings(environment="production")


def test_iap_mode_needs_an_audience(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARC_IAP_AUDIENCE", raising=False)
    with pytest.raises(ValidationError, match="ARC_AUTH_MODE=iap needs ARC_IAP_AUDIENCE"):
        make_settings(auth_mode="iap")
    with pytest.raises(ValidationError, match="needs ARC_IAP_AUDIENCE"):
        make_settings(auth_mode="iap", environment="production")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "arc.internal"])
def test_dev_auth_is_refused_on_a_non_loopback_bind(host: str) -> None:
    with pytest.raises(ValidationError, match=f"refused on ARC_BIND_HOST={re.escape(host)}"):
        make_settings(auth_mode="dev", bind_host=host)
    allowed = make_settings(auth_mode="dev", bind_host=host, allow_insecure_dev_auth=True)
    assert allowed.auth_mode == "dev"  # asked for explicitly


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_dev_auth_on_loopback_is_fine(host: str) -> None:
    assert make_settings(auth_mode="dev", bind_host=host).bind_host == host


def test_production_with_iap_is_accepted() -> None:
    settings = make_settings(environment="production", auth_mode="iap", iap_audience=IAP_AUDIENCE)
    assert settings.auth_mode == "iap"


# --- iap mode ----------------------------------------------------------------------------------------------


async def test_iap_valid_token(iap_auth: Authenticator, iap_key: EsKey) -> None:
    token = iap_key.sign(iap_claims())
    identity = await iap_auth.authenticate({IAP_JWT_HEADER: token})
    assert identity == Identity(email="alice@example.com", credentials=((IAP_JWT_HEADER, token),))
    assert not identity.is_admin and not identity.is_service


async def test_iap_admin(iap_auth: Authenticator, iap_key: EsKey) -> None:
    identity = await iap_auth.authenticate({IAP_JWT_HEADER: iap_key.sign(iap_claims(email="boss@example.com"))})
    assert identity.is_admin


async def test_iap_mode_ignores_the_plain_email_header(iap_auth: Authenticator) -> None:
    with pytest.raises(Unauthenticated, match="missing x-goog-iap-jwt-assertion"):
        await iap_auth.authenticate({USER_EMAIL_HEADER: "accounts.google.com:boss@example.com"})
    with pytest.raises(Unauthenticated):
        await iap_auth.authenticate({IAP_JWT_HEADER: ""})


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("wrong audience", iap_claims(aud="/projects/1/global/backendServices/2")),
        ("no audience", iap_claims(aud=None)),
        ("wrong issuer", iap_claims(iss="https://accounts.google.com")),
        ("no issuer", iap_claims(iss=None)),
        ("expired", iap_claims(iat=int(time.time()) - 3600, exp=int(time.time()) - 1800)),
        ("issued in the future", iap_claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)),
        ("no expiry", iap_claims(exp=None)),
        ("no email", iap_claims(email=None)),
        ("email not an address", iap_claims(email="alice")),
    ],
)
async def test_iap_refuses_bad_claims(iap_auth: Authenticator, iap_key: EsKey, case: str, claims: dict) -> None:
    with pytest.raises(Unauthenticated, match="invalid token"):
        await iap_auth.authenticate({IAP_JWT_HEADER: iap_key.sign(claims)})


async def test_iap_hosted_domain(key_server: KeyServer, iap_key: EsKey) -> None:
    url = key_server.serve(unique_path("iap-hd"), {"keys": [iap_key.jwk()]})
    auth = Authenticator(
        make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, iap_certs_url=url, iap_hosted_domain="example.com")
    )
    assert (await auth.authenticate({IAP_JWT_HEADER: iap_key.sign(iap_claims())})).email == "alice@example.com"
    for claims in (iap_claims(hd="evil.example"), iap_claims(hd=None)):
        with pytest.raises(Unauthenticated, match="hosted domain"):
            await auth.authenticate({IAP_JWT_HEADER: iap_key.sign(claims)})


async def test_iap_refuses_a_signature_by_another_key(iap_auth: Authenticator, iap_key: EsKey) -> None:
    impostor = EsKey(iap_key.kid)  # claims to be the published key
    with pytest.raises(Unauthenticated, match="invalid token"):
        await iap_auth.authenticate({IAP_JWT_HEADER: impostor.sign(iap_claims())})
    stranger = EsKey("unpublished-key")
    with pytest.raises(Unauthenticated, match="invalid token"):
        await iap_auth.authenticate({IAP_JWT_HEADER: stranger.sign(iap_claims())})
    # An unknown key presenting the decoy key's kid.
    with pytest.raises(Unauthenticated):
        await iap_auth.authenticate({IAP_JWT_HEADER: EsKey("x").sign(iap_claims(), kid="iap-key-0")})


async def test_iap_refuses_tampered_and_unsigned_tokens(iap_auth: Authenticator, iap_key: EsKey) -> None:
    good = iap_key.sign(iap_claims())
    header, _payload, signature = good.split(".")
    forged_payload = jwt.utils.base64url_encode(json.dumps(iap_claims(email="boss@example.com")).encode()).decode()
    unsigned = jwt.encode(iap_claims(), key=None, algorithm="none", headers={"kid": iap_key.kid})
    public_pem = iap_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header_hs = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": iap_key.kid}).encode()).decode()
    body = jwt.utils.base64url_encode(json.dumps(iap_claims()).encode()).decode()
    mac = hmac.new(public_pem, f"{header_hs}.{body}".encode(), hashlib.sha256).digest()
    hs256_with_public_key = f"{header_hs}.{body}.{jwt.utils.base64url_encode(mac).decode()}"
    for token in (f"{header}.{forged_payload}.{signature}", unsigned, hs256_with_public_key):
        with pytest.raises(Unauthenticated, match="invalid token"):
            await iap_auth.authenticate({IAP_JWT_HEADER: token})


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJFUzI1NiJ9..", "....", "é"])
async def test_iap_refuses_garbage(iap_auth: Authenticator, token: str) -> None:
    with pytest.raises(Unauthenticated, match="invalid token"):
        await iap_auth.authenticate({IAP_JWT_HEADER: token})


async def test_iap_keys_are_fetched_once_and_cached(key_server: KeyServer, iap_key: EsKey) -> None:
    path = unique_path("iap-cache")
    url = key_server.serve(path, {"keys": [iap_key.jwk()]})
    auth = Authenticator(make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, iap_certs_url=url))
    assert key_server.requests[path] == 0

    tokens = [iap_key.sign(iap_claims(email=f"user{i}@example.com")) for i in range(5)]
    # Concurrent first requests share one fetch.
    identities = await asyncio.gather(*(auth.authenticate({IAP_JWT_HEADER: t}) for t in tokens))
    assert [i.email for i in identities] == [f"user{i}@example.com" for i in range(5)]
    for token in tokens:
        await auth.authenticate({IAP_JWT_HEADER: token})
    with pytest.raises(Unauthenticated):
        await auth.authenticate({IAP_JWT_HEADER: "garbage"})
    assert key_server.requests[path] == 1


async def test_iap_keys_are_refetched_after_the_ttl(key_server: KeyServer, iap_key: EsKey) -> None:
    path = unique_path("iap-ttl")
    url = key_server.serve(path, {"keys": [iap_key.jwk()]})
    auth = Authenticator(
        make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, iap_certs_url=url), keys=KeyCache(ttl=0.0)
    )
    token = iap_key.sign(iap_claims())
    for _ in range(3):
        await auth.authenticate({IAP_JWT_HEADER: token})
    assert key_server.requests[path] == 3


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/keys"


async def test_iap_key_server_down_is_unavailable(iap_key: EsKey) -> None:
    auth = Authenticator(make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, iap_certs_url=_closed_port_url()))
    with pytest.raises(Unavailable, match="cannot fetch token verification keys"):
        await auth.authenticate({IAP_JWT_HEADER: iap_key.sign(iap_claims())})


async def test_iap_key_server_errors_are_unavailable_and_not_cached(key_server: KeyServer, iap_key: EsKey) -> None:
    path = unique_path("iap-flaky")
    url = key_server.url(path)  # nothing served yet: 404
    auth = Authenticator(make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, iap_certs_url=url))
    token = iap_key.sign(iap_claims())
    with pytest.raises(Unavailable):
        await auth.authenticate({IAP_JWT_HEADER: token})

    key_server.serve(path, b"<html>not json</html>")
    with pytest.raises(Unavailable):
        await auth.authenticate({IAP_JWT_HEADER: token})

    key_server.serve(path, {"keys": [iap_key.jwk()]})
    assert (await auth.authenticate({IAP_JWT_HEADER: token})).email == "alice@example.com"
    assert key_server.requests[path] == 3


# --- Google ID tokens of service accounts -----------------------------------------------------------------


@pytest.fixture
def id_auth(key_server: KeyServer, google_key: RsaKey, iap_key: EsKey) -> Authenticator:
    """iap mode that also accepts ID tokens; Google's certs served as ``{kid: x509 PEM}`` (oauth2/v1/certs)."""
    certs = {"google-key-0": RsaKey("google-key-0").certificate_pem(), google_key.kid: google_key.certificate_pem()}
    return Authenticator(
        make_settings(
            auth_mode="iap",
            iap_audience=IAP_AUDIENCE,
            iap_certs_url=key_server.serve(unique_path("iap"), {"keys": [iap_key.jwk()]}),
            id_token_audience=ID_AUDIENCE,
            id_token_certs_url=key_server.serve(unique_path("google-certs"), certs),
            service_account_emails=f"{ROBOT}, other@arc-prod.iam.gserviceaccount.com",
        )
    )


async def test_id_token_of_an_allowed_service_account(id_auth: Authenticator, google_key: RsaKey) -> None:
    token = google_key.sign(id_token_claims())
    identity = await id_auth.authenticate({AUTHORIZATION_HEADER: f"Bearer {token}"})
    assert identity.email == ROBOT
    assert identity.is_service
    assert not identity.is_admin  # allowed to call is not allowed to see every run
    assert identity.credentials == ((AUTHORIZATION_HEADER, f"Bearer {token}"),)
    # The scheme is case-insensitive; the issuer may come without https://.
    token = google_key.sign(id_token_claims(iss="accounts.google.com"))
    assert (await id_auth.authenticate({AUTHORIZATION_HEADER: f"bearer {token}"})).email == ROBOT


async def test_id_token_keys_in_jwk_format(key_server: KeyServer) -> None:
    key = EsKey("jwk-google")
    auth = Authenticator(
        make_settings(
            auth_mode="dev",
            id_token_audience=ID_AUDIENCE,
            id_token_certs_url=key_server.serve(unique_path("google-jwk"), {"keys": [key.jwk()]}),
            service_account_emails=ROBOT,
        )
    )
    identity = await auth.authenticate({AUTHORIZATION_HEADER: f"Bearer {key.sign(id_token_claims())}"})
    assert identity.email == ROBOT and identity.is_service and not identity.is_admin


async def test_a_service_account_is_an_admin_only_when_listed_as_one(key_server: KeyServer) -> None:
    key = EsKey("jwk-google-admin")
    settings = dict(
        auth_mode="dev",
        id_token_audience=ID_AUDIENCE,
        id_token_certs_url=key_server.serve(unique_path("google-jwk"), {"keys": [key.jwk()]}),
        service_account_emails=ROBOT,
    )
    token = {AUTHORIZATION_HEADER: f"Bearer {key.sign(id_token_claims())}"}
    assert not (await Authenticator(make_settings(**settings)).authenticate(token)).is_admin
    admin = await Authenticator(make_settings(**settings, admin_emails=ROBOT)).authenticate(token)
    assert admin.is_service and admin.is_admin


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("not allowed", id_token_claims(email="stranger@other-project.iam.gserviceaccount.com")),
        ("a person", id_token_claims(email="alice@example.com")),
        ("email not verified", id_token_claims(email_verified=False)),
        ("no email_verified", id_token_claims(email_verified=None)),
        ("no email", id_token_claims(email=None)),
        ("wrong audience", id_token_claims(aud="https://elsewhere.example.com")),
        ("wrong issuer", id_token_claims(iss=IAP_ISSUER)),
        ("expired", id_token_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    ],
)
async def test_id_token_refusals(id_auth: Authenticator, google_key: RsaKey, case: str, claims: dict) -> None:
    with pytest.raises(Unauthenticated, match="invalid token"):
        await id_auth.authenticate({AUTHORIZATION_HEADER: f"Bearer {google_key.sign(claims)}"})


async def test_id_token_signed_by_another_key(id_auth: Authenticator, google_key: RsaKey) -> None:
    impostor = RsaKey(google_key.kid)
    with pytest.raises(Unauthenticated, match="invalid token"):
        await id_auth.authenticate({AUTHORIZATION_HEADER: f"Bearer {impostor.sign(id_token_claims())}"})
    with pytest.raises(Unauthenticated, match="invalid token"):
        await id_auth.authenticate({AUTHORIZATION_HEADER: "Bearer garbage"})


async def test_an_iap_token_is_not_an_id_token(id_auth: Authenticator, iap_key: EsKey) -> None:
    token = iap_key.sign(iap_claims(email=ROBOT, aud=ID_AUDIENCE))
    with pytest.raises(Unauthenticated):
        await id_auth.authenticate({AUTHORIZATION_HEADER: f"Bearer {token}"})


async def test_bearer_is_ignored_without_an_id_token_audience(iap_auth: Authenticator, iap_key: EsKey) -> None:
    # No id_token_audience: the bearer is not considered and the IAP assertion decides.
    identity = await iap_auth.authenticate(
        {AUTHORIZATION_HEADER: "Bearer whatever", IAP_JWT_HEADER: iap_key.sign(iap_claims())}
    )
    assert identity.email == "alice@example.com"
    with pytest.raises(Unauthenticated, match="missing"):
        await iap_auth.authenticate({AUTHORIZATION_HEADER: "Bearer whatever"})


# --- the platform's own services (arc_core.service_identity) ----------------------------------------------

LIST_TASKS = "/arc.logs.v1.LogsService/ListTasks"
GET_RUN = "/arc.runs.v1.RunsService/GetRun"
CANCEL_RUN = "/arc.runs.v1.RunsService/CancelRun"
RUNS_SA = "arc-runs@arc-prod.iam.gserviceaccount.com"


def test_process_credentials_verify_only_as_minted() -> None:
    value = mint_process_credential("runs@arc.internal")
    assert verify_process_credential(value) == "runs@arc.internal"
    principal, _, mac = value.rpartition(":")
    flipped = mac[:-1] + ("1" if mac[-1] == "0" else "0")
    assert verify_process_credential(f"{principal}:{flipped}") is None
    assert verify_process_credential(value, credential_key(make_settings(service_credential_secret="x"))) is None
    assert verify_process_credential(f"logs@arc.internal:{mac}") is None
    assert verify_process_credential(mint_process_credential("alice@example.com")) is None  # not internal
    for garbage in ("", ":", "runs@arc.internal", "runs@arc.internal:", "é:é"):
        assert verify_process_credential(garbage) is None


async def test_the_process_credential_is_internal_on_internal_methods_only() -> None:
    auth = Authenticator(make_settings(auth_mode="dev", admin_emails="runs@arc.internal"))
    metadata = dict(await ProcessCredential("runs").metadata())
    for method in (LIST_TASKS, GET_RUN, "/arc.runs.v1.RunsService/WatchRun"):
        identity = await auth.authenticate(metadata, method)
        assert identity.email == "runs@arc.internal"
        assert identity.is_internal and identity.is_service and not identity.is_admin
        assert identity.can_see("anyone@example.com")
        assert identity.credentials == ((SERVICE_CREDENTIAL_HEADER, metadata[SERVICE_CREDENTIAL_HEADER]),)
    for method in (CANCEL_RUN, "/arc.runs.v1.RunsService/ListRuns", None):
        with pytest.raises(PermissionDenied, match="may not call"):
            await auth.authenticate(metadata, method)


async def test_a_bad_process_credential_is_unauthenticated_in_any_mode(iap_auth: Authenticator) -> None:
    forged = {SERVICE_CREDENTIAL_HEADER: "runs@arc.internal:" + "0" * 64}
    for auth in (Authenticator(make_settings(auth_mode="dev")), iap_auth):
        with pytest.raises(Unauthenticated, match="invalid service credential"):
            await auth.authenticate(forged, GET_RUN)
    # In iap mode too, the credential minted by this process is accepted (services in one process).
    identity = await iap_auth.authenticate(dict(await ProcessCredential("runs").metadata()), GET_RUN)
    assert identity.is_internal


@pytest.mark.parametrize("email", ["runs@arc.internal", "Runs@Arc.Internal", "anything@arc.internal"])
async def test_nobody_can_claim_an_internal_principal(email: str, iap_auth: Authenticator, iap_key: EsKey) -> None:
    dev = Authenticator(make_settings(auth_mode="dev"))
    with pytest.raises(Unauthenticated, match="reserved for the platform's own services"):
        await dev.authenticate({USER_EMAIL_HEADER: f"accounts.google.com:{email}"}, GET_RUN)
    with pytest.raises(Unauthenticated, match="reserved"):
        await iap_auth.authenticate({IAP_JWT_HEADER: iap_key.sign(iap_claims(email=email))}, GET_RUN)


@pytest.fixture
def internal_auth(key_server: KeyServer, google_key: RsaKey, iap_key: EsKey) -> Authenticator:
    return Authenticator(
        make_settings(
            auth_mode="iap",
            iap_audience=IAP_AUDIENCE,
            iap_certs_url=key_server.serve(unique_path("iap"), {"keys": [iap_key.jwk()]}),
            id_token_audience=ID_AUDIENCE,
            id_token_certs_url=key_server.serve(
                unique_path("google-certs"), {google_key.kid: google_key.certificate_pem()}
            ),
            service_account_emails=ROBOT,
            internal_service_accounts=f" {RUNS_SA.upper()} ",
            admin_emails=RUNS_SA,
        )
    )


async def test_an_internal_service_accounts_id_token(internal_auth: Authenticator, google_key: RsaKey) -> None:
    assert internal_auth.settings.internal_service_accounts == frozenset({RUNS_SA})
    token = {AUTHORIZATION_HEADER: f"Bearer {google_key.sign(id_token_claims(email=RUNS_SA))}"}
    identity = await internal_auth.authenticate(token, LIST_TASKS)  # allowed without service_account_emails
    assert identity.email == RUNS_SA and identity.is_internal and identity.is_service
    assert not identity.is_admin  # listed as admin or not, an internal principal only reads
    with pytest.raises(PermissionDenied):
        await internal_auth.authenticate(token, CANCEL_RUN)
    # Another allowed service account is a plain caller, on any method.
    robot = await internal_auth.authenticate(
        {AUTHORIZATION_HEADER: f"Bearer {google_key.sign(id_token_claims())}"}, CANCEL_RUN
    )
    assert robot.email == ROBOT and not robot.is_internal and not robot.can_see("alice@example.com")


class TokenMint:
    """Stands in for the metadata server: ID tokens whose lifetime the test chooses; counts calls."""

    def __init__(self, key: RsaKey, lifetime: int = 3600) -> None:
        self.key = key
        self.lifetime = lifetime
        self.calls: list[str] = []
        self.fail: Exception | None = None

    def __call__(self, audience: str) -> str:
        self.calls.append(audience)
        if self.fail is not None:
            raise self.fail
        now = int(time.time())
        return self.key.sign(id_token_claims(email=RUNS_SA, aud=audience, iat=now, exp=now + self.lifetime))


async def test_the_id_token_credential_is_cached_until_near_expiry(google_key: RsaKey) -> None:
    mint = TokenMint(google_key)
    credential = GoogleIdTokenCredential(ID_AUDIENCE, fetch=mint)
    first = await asyncio.gather(*(credential.metadata() for _ in range(5)))  # concurrent: one fetch
    assert mint.calls == [ID_AUDIENCE]
    assert all(m == first[0] for m in first)
    ((name, value),) = first[0]
    assert name == AUTHORIZATION_HEADER and value.startswith("Bearer ")
    assert await credential.metadata() == first[0]
    assert len(mint.calls) == 1

    short = TokenMint(google_key, lifetime=200)  # inside the 300 s margin: fetched afresh every time
    credential = GoogleIdTokenCredential(ID_AUDIENCE, fetch=short)
    await credential.metadata()
    await credential.metadata()
    assert len(short.calls) == 2


async def test_the_id_token_credential_verifies_where_it_is_sent(
    internal_auth: Authenticator, google_key: RsaKey
) -> None:
    metadata = await GoogleIdTokenCredential(ID_AUDIENCE, fetch=TokenMint(google_key)).metadata()
    assert (await internal_auth.authenticate(dict(metadata), GET_RUN)).is_internal


async def test_an_id_token_that_cannot_be_fetched_is_unavailable(google_key: RsaKey) -> None:
    mint = TokenMint(google_key)
    mint.fail = OSError("metadata server unreachable")
    credential = GoogleIdTokenCredential(ID_AUDIENCE, fetch=mint)
    with pytest.raises(Unavailable, match="metadata server unreachable"):
        await credential.metadata()
    mint.fail = None  # not cached: the next call tries again
    assert (await credential.metadata())[0][0] == AUTHORIZATION_HEADER
    assert len(mint.calls) == 2


def test_which_service_credential() -> None:
    assert isinstance(service_credential(make_settings(auth_mode="dev"), "runs"), ProcessCredential)
    assert isinstance(
        service_credential(make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE), "runs"), ProcessCredential
    )  # services in one process behind IAP, no audience for ID tokens
    separate = make_settings(auth_mode="iap", iap_audience=IAP_AUDIENCE, id_token_audience=ID_AUDIENCE)
    credential = service_credential(separate, "runs")
    assert isinstance(credential, GoogleIdTokenCredential) and credential.audience == ID_AUDIENCE
    # The dev overlay: dev identity for people, ID tokens between the pods (GKE's Workload Identity).
    dev_pods = service_credential(make_settings(auth_mode="dev", id_token_audience=ID_AUDIENCE), "runs")
    assert isinstance(dev_pods, GoogleIdTokenCredential)


async def test_pods_of_one_deployment_share_a_credential_key_only_through_the_secret() -> None:
    ours = make_settings(auth_mode="dev", service_credential_secret="s3cret-of-this-deployment")
    theirs = make_settings(auth_mode="dev", service_credential_secret="another-deployment")
    alone = make_settings(auth_mode="dev")
    assert "s3cret" not in repr(ours)
    metadata = dict(await service_credential(ours, "runs").metadata())  # as minted in the Runs pod
    assert (await Authenticator(ours).authenticate(metadata, LIST_TASKS)).is_internal  # in the Logs pod
    for other in (theirs, alone):
        with pytest.raises(Unauthenticated, match="invalid service credential"):
            await Authenticator(other).authenticate(metadata, LIST_TASKS)
    # Without the secret, a key of this process alone: another deployment's secret does not reproduce it.
    own = dict(await service_credential(alone, "runs").metadata())
    assert (await Authenticator(alone).authenticate(own, LIST_TASKS)).is_internal
    with pytest.raises(Unauthenticated):
        await Authenticator(ours).authenticate(own, LIST_TASKS)
