"""ObjectLister: one folder of any bucket (the real client on fake-gcs-server) or any local directory."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from google.auth.exceptions import DefaultCredentialsError

from arc_core.errors import Unavailable
from arc_core.object_listing import EMPTY, FolderListing, ObjectLister
from tests.support.fake_gcs import FakeGcs, make_client


@pytest.fixture
def prefix(fake_gcs: FakeGcs) -> str:
    """A fresh folder in the session's bucket with files, sub-folders and a folder placeholder object."""
    base = f"listing-{uuid.uuid4().hex[:8]}"
    bucket = fake_gcs.client.bucket(fake_gcs.bucket_name)
    for name in ("a_R1.fastq.gz", "a_R2.fastq.gz", "sub/inner.fastq.gz", "sub/deeper/x.txt", "other/y.txt", ""):
        bucket.blob(f"{base}/{name}" if name else f"{base}/").upload_from_string(b"reads")
    bucket.blob(f"{base}-sibling/z.txt").upload_from_string(b"not in the folder")
    return f"gs://{fake_gcs.bucket_name}/{base}/"


async def test_gcs_folder_lists_its_files_and_subfolders_only(fake_gcs: FakeGcs, prefix: str) -> None:
    listing = await ObjectLister(client=fake_gcs.client).list_folder(prefix)
    # Directly in the folder: no deeper names, no sibling prefix, not the placeholder object itself.
    assert listing == FolderListing(frozenset({"a_R1.fastq.gz", "a_R2.fastq.gz"}), frozenset({"sub", "other"}))
    sub = await ObjectLister(client=fake_gcs.client).list_folder(f"{prefix}sub/")
    assert sub == FolderListing(frozenset({"inner.fastq.gz"}), frozenset({"deeper"}))


async def test_gcs_bucket_root_and_missing_folder(fake_gcs: FakeGcs, prefix: str) -> None:
    lister = ObjectLister(client=fake_gcs.client)
    root = await lister.list_folder(f"gs://{fake_gcs.bucket_name}/")
    assert prefix.split("/")[3] in root.folders
    assert await lister.list_folder(f"{prefix}nothing-here/") == EMPTY


async def test_gcs_missing_bucket_is_an_empty_folder(fake_gcs: FakeGcs) -> None:
    listing = await ObjectLister(client=fake_gcs.client).list_folder("gs://no-such-bucket-arc/reads/")
    assert listing == EMPTY and not listing.unreadable


async def test_gcs_client_is_made_on_first_gcs_listing_only(fake_gcs: FakeGcs, tmp_path: Path) -> None:
    made: list[int] = []

    def factory() -> object:
        made.append(1)
        return fake_gcs.client

    lister = ObjectLister(client_factory=factory)
    await lister.list_folder(f"{tmp_path}/")
    assert made == []  # a laptop that names only local files never needs Google credentials
    await lister.list_folder(f"gs://{fake_gcs.bucket_name}/")
    await lister.list_folder(f"gs://{fake_gcs.bucket_name}/x/")
    assert made == [1]


async def test_local_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.fastq.gz").write_bytes(b"")
    (tmp_path / "link.fastq.gz").symlink_to(tmp_path / "a.fastq.gz")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    listing = await ObjectLister().list_folder(f"{tmp_path}/")
    assert listing == FolderListing(frozenset({"a.fastq.gz", "link.fastq.gz"}), frozenset({"sub"}))
    assert await ObjectLister().list_folder(f"{tmp_path}/missing/") == EMPTY
    assert await ObjectLister().list_folder(f"{tmp_path}/a.fastq.gz/") == EMPTY  # a file is no folder


async def test_relative_folder_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        await ObjectLister().list_folder("data/")


async def test_no_google_credentials_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    def no_credentials() -> object:
        raise DefaultCredentialsError("Your default credentials were not found.")

    lister = ObjectLister(client_factory=no_credentials)
    with pytest.raises(Unavailable, match="no Google credentials"):
        await lister.list_folder("gs://lab-fastq/reads/")
    assert await lister.list_folder(f"{tmp_path}/") == EMPTY  # local folders still list


async def test_unreachable_storage_is_unavailable_after_a_bounded_retry() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lister = ObjectLister(client=make_client(f"http://127.0.0.1:{port}"), retry_seconds=0.5)
    with pytest.raises(Unavailable, match="gs://lab-fastq/reads/"):
        await lister.list_folder("gs://lab-fastq/reads/")
