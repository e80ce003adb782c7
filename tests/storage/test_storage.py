"""One behaviour for both backends: LocalStorage (a temp dir) and GcsStorage (the real client on fake-gcs-server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from arc_core.errors import InvalidArgument, NotFound
from arc_core.storage import GcsStorage, LocalStorage, Storage, open_storage, safe_key
from tests.support.fake_gcs import FakeGcs

BACKENDS = ["local", "gcs"]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    fake_gcs: FakeGcs = request.getfixturevalue("fake_gcs")
    # A fresh prefix per test: the bucket is shared by the session.
    return GcsStorage(fake_gcs.root(f"prefix-{uuid.uuid4().hex[:8]}/arc"), client=fake_gcs.client)


async def test_write_then_read(storage: Storage) -> None:
    info = await storage.write_bytes("runs/run-1/inputs/samplesheet.csv", b"sample,fastq_1\nA,a.fq.gz\n")
    assert info.key == "runs/run-1/inputs/samplesheet.csv"
    assert info.size == 25
    assert info.version
    assert await storage.read_bytes("runs/run-1/inputs/samplesheet.csv") == b"sample,fastq_1\nA,a.fq.gz\n"


async def test_write_replaces_and_handles_empty_and_binary(storage: Storage) -> None:
    await storage.write_bytes("a/blob.bin", b"first")
    await storage.write_bytes("a/blob.bin", bytes(range(256)))
    assert await storage.read_bytes("a/blob.bin") == bytes(range(256))
    info = await storage.write_bytes("a/empty", b"")
    assert info.size == 0
    assert await storage.read_bytes("a/empty") == b""


async def test_keys_are_normalised(storage: Storage) -> None:
    await storage.write_bytes("runs//x/./y.txt", b"y")
    assert await storage.read_bytes("runs/x/y.txt") == b"y"
    assert [o.key for o in await storage.list("runs/")] == ["runs/x/y.txt"]


async def test_read_range(storage: Storage) -> None:
    await storage.write_bytes("r/data", b"0123456789")
    assert await storage.read_range("r/data", 2, 5) == b"234"
    assert await storage.read_range("r/data", 0, 1) == b"0"
    assert await storage.read_range("r/data", 7) == b"789"
    assert await storage.read_range("r/data", 0) == b"0123456789"
    assert await storage.read_range("r/data", 8, 100) == b"89"  # end past the end: what there is
    assert await storage.read_range("r/data", 10) == b""  # start at the end
    assert await storage.read_range("r/data", 25) == b""  # past the end
    assert await storage.read_range("r/data", 25, 30) == b""
    assert await storage.read_range("r/data", 4, 4) == b""  # start == end
    assert await storage.read_range("r/data", 6, 3) == b""  # end before start


async def test_read_range_of_an_empty_object(storage: Storage) -> None:
    await storage.write_bytes("r/empty", b"")
    assert await storage.read_range("r/empty", 0) == b""
    assert await storage.read_range("r/empty", 0, 10) == b""


async def test_stat(storage: Storage) -> None:
    assert await storage.stat("s/missing.txt") is None
    first = await storage.write_bytes("s/file.txt", b"aaaa")
    info = await storage.stat("s/file.txt")
    assert info is not None
    assert (info.key, info.size, info.version) == ("s/file.txt", 4, first.version)
    assert info.updated_at.tzinfo is not None

    # Same size, different content: the version still changes.
    await storage.write_bytes("s/file.txt", b"bbbb")
    again = await storage.stat("s/file.txt")
    assert again is not None
    assert again.size == 4
    assert again.version != info.version

    await storage.write_bytes("s/file.txt", b"longer content")
    third = await storage.stat("s/file.txt")
    assert third is not None
    assert third.size == 14
    assert third.version not in (info.version, again.version)


async def test_stat_of_a_folder_is_none(storage: Storage) -> None:
    await storage.write_bytes("s/dir/inner.txt", b"x")
    assert await storage.stat("s/dir") is None


async def test_list_is_recursive_sorted_and_relative_to_the_root(storage: Storage) -> None:
    for key in (
        "runs/a/z.txt",
        "runs/a/work/ab/cdef/.command.out",
        "runs/a/b.txt",
        "runs/ab/sneaky.txt",
        "runs/a.txt",
        "runs/b/other.txt",
    ):
        await storage.write_bytes(key, key.encode())

    listed = await storage.list("runs/a")
    assert [o.key for o in listed] == ["runs/a/b.txt", "runs/a/work/ab/cdef/.command.out", "runs/a/z.txt"]
    assert [o.size for o in listed] == [len(o.key) for o in listed]
    assert all(o.version for o in listed)
    # A trailing slash means the same folder.
    assert [o.key for o in await storage.list("runs/a/")] == [o.key for o in listed]
    assert [o.key for o in await storage.list("runs")] == [
        "runs/a.txt",
        "runs/a/b.txt",
        "runs/a/work/ab/cdef/.command.out",
        "runs/a/z.txt",
        "runs/ab/sneaky.txt",
        "runs/b/other.txt",
    ]


async def test_list_of_nothing_is_empty(storage: Storage) -> None:
    assert await storage.list("runs/none") == []
    await storage.write_bytes("runs/file", b"x")
    assert await storage.list("runs/file") == []  # an object is not a folder


async def test_has_objects_and_key_of(storage: Storage) -> None:
    await storage.write_bytes("runs/a/work/ab/cdef/.exitcode", b"0")
    assert await storage.has_objects("runs/a/work")
    assert await storage.has_objects("runs/a")
    assert not await storage.has_objects("runs/ab")  # a prefix of a name is not a folder
    assert not await storage.has_objects("runs/none")
    assert storage.key_of(storage.uri("runs/a/work")) == "runs/a/work"
    assert storage.key_of("gs://elsewhere/runs/a") is None
    assert storage.key_of("/somewhere/else/runs/a") is None


async def test_delete_prefix(storage: Storage) -> None:
    for key in ("runs/a/1.txt", "runs/a/deep/2.txt", "runs/ab/3.txt", "runs/b/4.txt"):
        await storage.write_bytes(key, b"x")
    assert await storage.delete_prefix("runs/a") == 2
    assert await storage.list("runs/a") == []
    assert await storage.stat("runs/a/1.txt") is None
    assert [o.key for o in await storage.list("runs")] == ["runs/ab/3.txt", "runs/b/4.txt"]
    assert await storage.delete_prefix("runs/a") == 0
    assert await storage.delete_prefix("never/was") == 0


async def test_two_deletes_of_one_prefix_at_once_both_succeed(storage: Storage) -> None:
    """A purge and a retention pass may delete the same work dir together: neither fails on what the other took."""
    keys = [f"runs/w/work/{i // 10}/{i}.txt" for i in range(40)]
    await asyncio.gather(*(storage.write_bytes(key, b"x") for key in keys))
    counts = await asyncio.gather(storage.delete_prefix("runs/w"), storage.delete_prefix("runs/w"))
    assert sum(counts) >= len(keys)
    assert await storage.list("runs/w") == [] and not await storage.has_objects("runs/w")


async def test_delete_prefix_naming_an_object_deletes_nothing(storage: Storage) -> None:
    await storage.write_bytes("runs/file", b"x")
    assert await storage.delete_prefix("runs/file") == 0
    assert await storage.read_bytes("runs/file") == b"x"


async def test_delete_one_object_leaves_its_neighbours(storage: Storage) -> None:
    for key in ("runs/a/inputs/params.yaml", "runs/a/inputs/params.yaml.bak", "runs/a/inputs/other"):
        await storage.write_bytes(key, b"x")
    assert await storage.delete("runs/a/inputs/params.yaml") is True
    assert await storage.delete("runs/a/inputs/params.yaml") is False  # already gone
    assert [o.key for o in await storage.list("runs/a")] == ["runs/a/inputs/other", "runs/a/inputs/params.yaml.bak"]
    assert await storage.delete("runs/a/inputs") is False  # a folder is not an object


async def test_iter_chunks(storage: Storage) -> None:
    data = bytes(i % 251 for i in range(10_000))
    await storage.write_bytes("big/object.bin", data)
    chunks = [c async for c in storage.iter_chunks("big/object.bin", chunk_size=3000)]
    assert [len(c) for c in chunks] == [3000, 3000, 3000, 1000]
    assert b"".join(chunks) == data

    exact = [c async for c in storage.iter_chunks("big/object.bin", chunk_size=2500)]
    assert [len(c) for c in exact] == [2500] * 4

    await storage.write_bytes("big/empty", b"")
    assert [c async for c in storage.iter_chunks("big/empty", chunk_size=10)] == []


async def test_missing_objects_are_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound):
        await storage.read_bytes("nope/missing.txt")
    with pytest.raises(NotFound):
        await storage.read_range("nope/missing.txt", 0, 10)
    with pytest.raises(NotFound):
        await storage.read_range("nope/missing.txt", 5)
    with pytest.raises(NotFound):
        async for _ in storage.iter_chunks("nope/missing.txt"):
            pass


async def test_a_folder_or_a_path_through_an_object_is_not_found(storage: Storage) -> None:
    await storage.write_bytes("f/dir/inner.txt", b"x")
    with pytest.raises(NotFound):
        await storage.read_bytes("f/dir")
    with pytest.raises(NotFound):
        await storage.read_bytes("f/dir/inner.txt/below")
    with pytest.raises(NotFound):
        await storage.read_range("f/dir/inner.txt/below", 0)
    assert await storage.stat("f/dir/inner.txt/below") is None


BAD_KEYS = ["", ".", "..", "../x", "a/../../x", "a/..", "/etc/passwd", "//x", "a\\b", "..\\x", "a\x00b"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_safe_key_refuses(key: str) -> None:
    with pytest.raises(InvalidArgument):
        safe_key(key)


@pytest.mark.parametrize(
    ("key", "expected"),
    [("a", "a"), ("a/b/c.txt", "a/b/c.txt"), ("a//b/", "a/b"), ("./a/./b", "a/b"), ("a..b/..c", "a..b/..c")],
)
def test_safe_key_normalises(key: str, expected: str) -> None:
    assert safe_key(key) == expected


@pytest.mark.parametrize("key", ["../outside.txt", "/abs/path", "a\\b", "a\x00b", ""])
async def test_every_operation_refuses_bad_keys(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidArgument):
        await storage.write_bytes(key, b"x")
    with pytest.raises(InvalidArgument):
        await storage.read_bytes(key)
    with pytest.raises(InvalidArgument):
        await storage.read_range(key, 0)
    with pytest.raises(InvalidArgument):
        await storage.stat(key)
    with pytest.raises(InvalidArgument):
        await storage.list(key)
    with pytest.raises(InvalidArgument):
        await storage.delete_prefix(key)
    with pytest.raises(InvalidArgument):
        async for _ in storage.iter_chunks(key):
            pass
    with pytest.raises(InvalidArgument):
        storage.uri(key)


async def test_local_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    storage = LocalStorage(tmp_path / "root")
    (storage.root / "runs").mkdir()
    (storage.root / "runs" / "link").symlink_to(outside, target_is_directory=True)
    (storage.root / "runs" / "file-link").symlink_to(outside / "secret.txt")

    for key in ("runs/link/secret.txt", "runs/file-link"):
        with pytest.raises(InvalidArgument):
            await storage.read_bytes(key)
        with pytest.raises(InvalidArgument):
            await storage.stat(key)
        with pytest.raises(InvalidArgument):
            await storage.write_bytes(key, b"overwritten")
    with pytest.raises(InvalidArgument):
        await storage.delete_prefix("runs/link")
    with pytest.raises(InvalidArgument):
        await storage.list("runs/link")
    assert (outside / "secret.txt").read_bytes() == b"secret"


async def test_local_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    await storage.write_bytes("data/real.txt", b"real")
    (storage.root / "data" / "alias.txt").symlink_to(storage.root / "data" / "real.txt")
    assert await storage.read_bytes("data/alias.txt") == b"real"


async def test_local_uri_and_no_download_url(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    await storage.write_bytes("runs/r/out.txt", b"x")
    assert storage.uri("runs/r/out.txt") == str((tmp_path / "root").resolve() / "runs" / "r" / "out.txt")
    assert await storage.download_url("runs/r/out.txt") is None
    assert await storage.download_url("runs/r/out.txt", filename="out.txt") is None


async def test_local_list_hides_partial_writes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    await storage.write_bytes("runs/r/done.txt", b"x")
    (storage.root / "runs" / "r" / ".half.txt.tmp-123-456").write_bytes(b"partial")
    assert [o.key for o in await storage.list("runs/r")] == ["runs/r/done.txt"]


def test_open_storage_picks_the_backend(tmp_path: Path, fake_gcs: FakeGcs) -> None:
    assert isinstance(open_storage(str(tmp_path / "local")), LocalStorage)
    gcs = open_storage(fake_gcs.root("p"), client=fake_gcs.client)
    assert isinstance(gcs, GcsStorage)
    with pytest.raises(ValueError):
        GcsStorage("s3://bucket/x", client=fake_gcs.client)


async def test_gcs_keys_live_under_the_prefix(fake_gcs: FakeGcs) -> None:
    prefix = f"iso-{uuid.uuid4().hex[:8]}"
    storage = GcsStorage(fake_gcs.root(f"{prefix}/root/"), client=fake_gcs.client)
    neighbour = GcsStorage(fake_gcs.root(f"{prefix}/rootless"), client=fake_gcs.client)
    await storage.write_bytes("runs/a/x.txt", b"x")
    await neighbour.write_bytes("runs/a/y.txt", b"y")

    assert storage.uri("runs/a/x.txt") == f"gs://{fake_gcs.bucket_name}/{prefix}/root/runs/a/x.txt"
    blob = fake_gcs.client.bucket(fake_gcs.bucket_name).get_blob(f"{prefix}/root/runs/a/x.txt")
    assert blob is not None and blob.download_as_bytes() == b"x"
    assert [o.key for o in await storage.list("runs")] == ["runs/a/x.txt"]
    assert await storage.delete_prefix("runs") == 1
    assert [o.key for o in await neighbour.list("runs")] == ["runs/a/y.txt"]


async def test_gcs_version_is_the_generation(fake_gcs: FakeGcs) -> None:
    storage = GcsStorage(fake_gcs.root(f"gen-{uuid.uuid4().hex[:8]}"), client=fake_gcs.client)
    info = await storage.write_bytes("o.txt", b"1")
    blob = fake_gcs.client.bucket(fake_gcs.bucket_name).get_blob(storage.uri("o.txt").split("/", 3)[3])
    assert blob is not None
    assert info.version == str(blob.generation)


@pytest.fixture(scope="module")
def signing_credentials() -> service_account.Credentials:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "project_id": "test",
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": "arc-signer@test.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


async def test_gcs_download_url_is_a_v4_signed_url(
    fake_gcs: FakeGcs, signing_credentials: service_account.Credentials
) -> None:
    root = fake_gcs.root(f"signed-{uuid.uuid4().hex[:8]}")
    await GcsStorage(root, client=fake_gcs.client).write_bytes("runs/r/results/multiqc report.html", b"<html/>")
    # Signing needs a private key; the anonymous client above does the API calls.
    signer = GcsStorage(root, client=fake_gcs.new_client(signing_credentials), signed_url_minutes=15)

    url = await signer.download_url("runs/r/results/multiqc report.html")
    assert url is not None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == fake_gcs.endpoint
    assert unquote(parts.path) == "/" + signer.uri("runs/r/results/multiqc report.html")[5:]
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == [str(int(timedelta(minutes=15).total_seconds()))]
    assert query["X-Goog-Credential"][0].startswith("arc-signer@test.iam.gserviceaccount.com/")
    assert query["X-Goog-SignedHeaders"] == ["host"]
    assert len(query["X-Goog-Signature"][0]) == 512  # hex of a 2048-bit RSA signature
    assert "response-content-disposition" not in query

    named = await signer.download_url("runs/r/results/multiqc report.html", filename="report.html")
    assert named is not None
    named_query = parse_qs(urlsplit(named).query)
    assert named_query["response-content-disposition"] == ["attachment; filename*=UTF-8''report.html"]
    assert named_query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]

    # The emulator does not check signatures, but it does serve the object at the signed path.
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.content == b"<html/>"
