"""List one folder of any bucket or local directory: what is directly in it, files and sub-folders.

Unlike :mod:`arc_core.storage`, which works under the platform's own storage root, this lists any
``gs://BUCKET/PATH/`` prefix (the lab's FASTQ bucket, a reference bucket) or any absolute local directory.
It is how the Runs service checks that the files a run names exist: one listing per folder, never one
call per file. The GCS client is synchronous, so its calls run in a worker thread, as local I/O does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from arc_core.errors import Unavailable


@dataclass(frozen=True)
class FolderListing:
    """The names directly in a folder (no path, no trailing slash)."""

    files: frozenset[str]
    folders: frozenset[str]
    # Set when the folder could not be read (e.g. permission denied): a reason to show to a caller.
    unreadable: str = ""


EMPTY = FolderListing(frozenset(), frozenset())
LIST_TIMEOUT_SECONDS = 10.0  # per request
# How long retryable failures (503, a refused connection) are retried: well within the gateway's deadline.
LIST_RETRY_SECONDS = 10.0


class FolderLister(Protocol):
    async def list_folder(self, folder: str) -> FolderListing:
        """``folder`` is ``gs://BUCKET/[PATH/]`` or an absolute local directory ending with ``/``."""
        ...


class ObjectLister:
    """Lists ``gs://`` prefixes with google-cloud-storage and local directories with ``os.scandir``.

    The GCS client is made on first use (``client_factory``, default ``storage.Client()``), so a laptop
    that never names a ``gs://`` input never needs Google credentials.
    """

    def __init__(
        self,
        client: Any | None = None,
        *,
        client_factory: Callable[[], Any] | None = None,
        retry_seconds: float = LIST_RETRY_SECONDS,
    ) -> None:
        self._client = client
        self._client_factory = client_factory
        self._retry_seconds = retry_seconds
        self._client_lock = asyncio.Lock()

    async def list_folder(self, folder: str) -> FolderListing:
        if folder.startswith("gs://"):
            return await self._list_gcs(folder)
        if not os.path.isabs(folder):
            raise ValueError(f"not a gs:// prefix or an absolute directory: {folder!r}")
        return await asyncio.to_thread(_list_local, folder)

    async def _gcs_client(self) -> Any:
        async with self._client_lock:
            if self._client is None:
                factory = self._client_factory
                if factory is None:
                    import google.cloud.storage as gcs  # lazily: the laptop never needs it

                    factory = gcs.Client
                from google.auth import exceptions as auth_exc

                try:
                    self._client = await asyncio.to_thread(factory)  # finds credentials: may do I/O
                except auth_exc.DefaultCredentialsError as exc:
                    raise Unavailable(
                        "the platform has no Google credentials to check gs:// inputs (set up Application"
                        " Default Credentials, or name only local inputs)"
                    ) from exc
            return self._client

    async def _list_gcs(self, folder: str) -> FolderListing:
        import requests
        from google.api_core import exceptions as gexc
        from google.cloud.storage.retry import DEFAULT_RETRY

        bucket, _, prefix = folder[5:].partition("/")
        client = await self._gcs_client()
        retry = DEFAULT_RETRY.with_timeout(self._retry_seconds)

        def _list() -> FolderListing:
            blobs = client.list_blobs(bucket, prefix=prefix, delimiter="/", timeout=LIST_TIMEOUT_SECONDS, retry=retry)
            files = frozenset(b.name[len(prefix) :] for b in blobs if b.name != prefix)
            folders = frozenset(p[len(prefix) :].rstrip("/") for p in blobs.prefixes)
            return FolderListing(files, folders)

        try:
            return await asyncio.to_thread(_list)
        except gexc.NotFound:  # no such bucket: nothing in it exists
            return EMPTY
        except gexc.Forbidden as exc:
            return FolderListing(frozenset(), frozenset(), f"the platform may not list gs://{bucket}/ ({exc.message})")
        except gexc.GoogleAPICallError as exc:  # 5xx, 429, and anything else the API answers
            raise Unavailable(f"Cloud Storage unavailable while listing {folder}: {exc.message}") from exc
        except (gexc.RetryError, ConnectionError, TimeoutError, requests.exceptions.RequestException) as exc:
            raise Unavailable(f"Cloud Storage unreachable while listing {folder}: {exc}") from exc


def _list_local(folder: str) -> FolderListing:
    files: set[str] = set()
    folders: set[str] = set()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        folders.add(entry.name)
                    elif entry.is_file():
                        files.add(entry.name)
                except OSError:
                    continue
    except (FileNotFoundError, NotADirectoryError):
        return EMPTY
    except PermissionError:
        return FolderListing(frozenset(), frozenset(), f"the platform may not read {folder}")
    return FolderListing(frozenset(files), frozenset(folders))
