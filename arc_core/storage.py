"""Object storage behind one small async interface: a local directory or Google Cloud Storage.

Keys are relative, slash-separated paths under the storage root (``runs/run-1a2b3c4d/inputs/...``).
Every key is checked by :func:`safe_key` so nothing escapes the root. The GCS client is
synchronous, so its calls run in a worker thread; local file I/O does too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from arc_core.errors import InvalidArgument, NotFound, Unavailable

_T = TypeVar("_T")
CHUNK_SIZE = 256 * 1024
# What the OS says when a local key names a folder, or runs through an object ("a.txt/b"): not found.
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    updated_at: datetime
    # GCS generation, or the local mtime in ns: changes whenever the content does.
    version: str


def safe_key(key: str) -> str:
    """Normalise a relative key and refuse anything that could leave the root."""
    if not key or "\x00" in key or "\\" in key or key.startswith("/"):
        raise InvalidArgument(f"invalid storage path: {key!r}")
    parts = PurePosixPath(key).parts
    if any(p in ("..", ".") for p in parts) or not parts:
        raise InvalidArgument(f"invalid storage path: {key!r}")
    return "/".join(parts)


def _ignore_missing(_function: object, _path: str, exc_info: tuple[type[BaseException], BaseException, object]) -> None:
    """``shutil.rmtree``'s error hook: a file or folder already gone is what was wanted."""
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


class Storage(Protocol):
    """What the services need from object storage."""

    def uri(self, key: str) -> str: ...

    def key_of(self, uri: str) -> str | None:
        """The key of a URI under this storage's root (the inverse of :meth:`uri`), or None."""
        ...

    async def has_objects(self, prefix: str) -> bool:
        """Whether anything is stored under ``prefix`` (one listing call, not a full listing)."""
        ...

    async def write_bytes(self, key: str, data: bytes) -> ObjectInfo: ...

    async def read_bytes(self, key: str) -> bytes: ...

    async def read_range(self, key: str, start: int, end: int | None = None) -> bytes:
        """Bytes ``[start, end)``; ``end=None`` reads to the end. Past the end gives ``b""``."""
        ...

    async def stat(self, key: str) -> ObjectInfo | None: ...

    async def list(self, prefix: str) -> list[ObjectInfo]: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder: an object named ``prefix`` stays); how many went.
        Objects that another delete removes meanwhile are no error."""
        ...

    async def delete(self, key: str) -> bool:
        """Delete one object; False when there was none."""
        ...

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]: ...

    async def download_url(self, key: str, *, filename: str | None = None) -> str | None:
        """A URL a browser can fetch directly (GCS V4 signed URL), or None when the gateway must serve it."""
        ...


class LocalStorage:
    """A local directory laid out like the bucket."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / safe_key(key)).resolve()
        if not path.is_relative_to(self.root):  # a symlink pointing outside
            raise InvalidArgument(f"invalid storage path: {key!r}")
        return path

    def uri(self, key: str) -> str:
        return str(self.root / safe_key(key))

    def key_of(self, uri: str) -> str | None:
        path = Path(uri)
        if not path.is_absolute() or not path.is_relative_to(self.root) or path == self.root:
            return None
        return safe_key(path.relative_to(self.root).as_posix())

    async def has_objects(self, prefix: str) -> bool:
        base = self._path(prefix)

        def _any() -> bool:
            return any(files for _dirpath, _dirs, files in os.walk(base))

        return await asyncio.to_thread(_any)

    @staticmethod
    def _info(key: str, st: os.stat_result) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=st.st_size,
            updated_at=datetime.fromtimestamp(st.st_mtime, UTC),
            version=f"{st.st_mtime_ns}-{st.st_size}",
        )

    async def write_bytes(self, key: str, data: bytes) -> ObjectInfo:
        path = self._path(key)

        def _write() -> ObjectInfo:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{id(data)}")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see a half-written object
            return self._info(key, path.stat())

        return await asyncio.to_thread(_write)

    async def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except _MISSING:
            raise NotFound(f"no such object: {key}") from None

    async def read_range(self, key: str, start: int, end: int | None = None) -> bytes:
        path = self._path(key)

        def _read() -> bytes:
            with path.open("rb") as f:
                f.seek(start)
                return f.read() if end is None else f.read(max(0, end - start))

        try:
            return await asyncio.to_thread(_read)
        except _MISSING:
            raise NotFound(f"no such object: {key}") from None

    async def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            st = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return self._info(key, st) if path.is_file() else None

    async def list(self, prefix: str) -> list[ObjectInfo]:
        base = self._path(prefix)

        def _walk() -> list[ObjectInfo]:
            out: list[ObjectInfo] = []
            if not base.is_dir():
                return out
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    if name.startswith(".") and ".tmp-" in name:
                        continue
                    p = Path(dirpath) / name
                    key = p.relative_to(self.root).as_posix()
                    try:
                        out.append(self._info(key, p.stat()))
                    except FileNotFoundError:
                        continue
            out.sort(key=lambda o: o.key)
            return out

        return await asyncio.to_thread(_walk)

    async def delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix)

        def _delete() -> int:
            if not base.is_dir():  # like GCS, a prefix is a folder: an object of that name stays
                return 0
            count = sum(len(files) for _d, _s, files in os.walk(base))
            shutil.rmtree(base, onerror=_ignore_missing)  # what a concurrent delete took is no error
            return count

        return await asyncio.to_thread(_delete)

    async def delete(self, key: str) -> bool:
        path = self._path(key)

        def _delete() -> bool:
            try:
                path.unlink()
            except (FileNotFoundError, IsADirectoryError):
                return False
            return True

        return await asyncio.to_thread(_delete)

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            f = await asyncio.to_thread(path.open, "rb")
        except _MISSING:
            raise NotFound(f"no such object: {key}") from None
        try:
            while chunk := await asyncio.to_thread(f.read, chunk_size):
                yield chunk
        finally:
            f.close()

    async def download_url(self, key: str, *, filename: str | None = None) -> str | None:
        return None


class GcsStorage:
    """Google Cloud Storage under ``gs://bucket[/prefix]``."""

    def __init__(
        self,
        root_uri: str,
        *,
        client: Any | None = None,  # a google.cloud.storage.Client (the library ships no types)
        signing_service_account: str = "",
        signed_url_minutes: int = 60,
    ) -> None:
        import google.cloud.storage as gcs  # lazily: the laptop never needs it

        if not root_uri.startswith("gs://"):
            raise ValueError(f"not a gs:// URI: {root_uri}")
        bucket, _, prefix = root_uri[5:].partition("/")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = client or gcs.Client()
        self.bucket = self.client.bucket(bucket)
        self.signing_service_account = signing_service_account
        self.signed_url_minutes = signed_url_minutes

    def _name(self, key: str) -> str:
        key = safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{self._name(key)}"

    def key_of(self, uri: str) -> str | None:
        base = f"gs://{self.bucket_name}/" + (f"{self.prefix}/" if self.prefix else "")
        return safe_key(uri[len(base) :]) if uri.startswith(base) and len(uri) > len(base) else None

    async def has_objects(self, prefix: str) -> bool:
        name = self._name(prefix).rstrip("/") + "/"

        def _any() -> bool:
            return any(True for _ in self.client.list_blobs(self.bucket_name, prefix=name, max_results=1))

        return await self._call(_any)

    def _info(self, blob: Any) -> ObjectInfo:
        return ObjectInfo(
            key=self._key(blob.name),
            size=int(blob.size or 0),
            updated_at=blob.updated or datetime.now(UTC),
            version=str(blob.generation),
        )

    async def _call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        from google.api_core import exceptions as gexc

        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except gexc.NotFound as exc:
            raise NotFound(f"no such object: {exc.message}") from None
        except (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests) as exc:
            raise Unavailable(f"Cloud Storage unavailable: {exc.message}") from exc

    async def write_bytes(self, key: str, data: bytes) -> ObjectInfo:
        blob = self.bucket.blob(self._name(key))
        await self._call(blob.upload_from_string, data)
        return self._info(blob)

    async def read_bytes(self, key: str) -> bytes:
        return await self._call(self.bucket.blob(self._name(key)).download_as_bytes)

    async def read_range(self, key: str, start: int, end: int | None = None) -> bytes:
        from google.api_core import exceptions as gexc

        if end is not None and end <= start:
            return b""
        blob = self.bucket.blob(self._name(key))
        try:
            # download_as_bytes takes an inclusive end.
            return await self._call(blob.download_as_bytes, start=start, end=None if end is None else end - 1)
        except gexc.RequestRangeNotSatisfiable:
            return b""

    async def stat(self, key: str) -> ObjectInfo | None:
        blob = await self._call(self.bucket.get_blob, self._name(key))
        return self._info(blob) if blob is not None else None

    async def list(self, prefix: str) -> list[ObjectInfo]:
        name = self._name(prefix).rstrip("/") + "/"

        def _list() -> list[ObjectInfo]:
            return [self._info(b) for b in self.client.list_blobs(self.bucket_name, prefix=name)]

        return sorted(await self._call(_list), key=lambda o: o.key)

    async def delete_prefix(self, prefix: str) -> int:
        name = self._name(prefix).rstrip("/") + "/"

        def _delete() -> int:
            from google.api_core import exceptions as gexc

            deleted = 0
            for blob in self.client.list_blobs(self.bucket_name, prefix=name):
                try:
                    blob.delete()
                except gexc.NotFound:  # deleted meanwhile (a purge and a retention pass at once): no error
                    continue
                deleted += 1
            return deleted

        return await self._call(_delete)

    async def delete(self, key: str) -> bool:
        try:
            await self._call(self.bucket.blob(self._name(key)).delete)
        except NotFound:
            return False
        return True

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        info = await self.stat(key)
        if info is None:
            raise NotFound(f"no such object: {key}")
        offset = 0
        while offset < info.size:
            chunk = await self.read_range(key, offset, min(info.size, offset + chunk_size))
            if not chunk:
                break
            offset += len(chunk)
            yield chunk

    async def download_url(self, key: str, *, filename: str | None = None) -> str | None:
        blob = self.bucket.blob(self._name(key))
        kwargs: dict[str, object] = {
            "version": "v4",
            "expiration": timedelta(minutes=self.signed_url_minutes),
            "method": "GET",
        }
        if filename:
            kwargs["response_disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        credentials: Any = getattr(self.client, "_credentials", None)
        if self.signing_service_account and not hasattr(credentials, "sign_bytes"):
            # Workload identity has no private key: sign through IAM with an access token.
            def _refresh() -> None:
                import google.auth.transport.requests

                credentials.refresh(google.auth.transport.requests.Request())

            if not credentials.valid:  # a token lasts an hour: not one fetch per file
                await asyncio.to_thread(_refresh)
            kwargs["service_account_email"] = self.signing_service_account
            kwargs["access_token"] = credentials.token
        return await asyncio.to_thread(blob.generate_signed_url, **kwargs)


def open_storage(root: str, **gcs_options: Any) -> Storage:
    """Local directory or ``gs://`` bucket, by the root's form."""
    if root.startswith("gs://"):
        return GcsStorage(root, **gcs_options)
    return LocalStorage(root)
