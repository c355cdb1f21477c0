"""Where generated documents (invoice PDFs, vendor logos) are kept.

A small interface so object storage can replace the default file store: documents
are addressed by a relative key such as ``invoices/<vendor>/<invoice>.pdf``. A
finalized invoice's PDF is written once and never changed, so :meth:`put_once`
keeps the first version written and returns it: two renderers racing on the
same invoice end up serving the same bytes.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from octane.core.errors import ValidationError

__all__ = ["DocumentStore", "FileDocumentStore", "check_key"]

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def check_key(key: str) -> str:
    """A key is a relative path of safe segments; never absolute, never ``..``."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValidationError(f"'{key}' is not a valid document key.", field="key")
    return key


class DocumentStore(Protocol):
    """Bytes by key. Implementations must make ``put_once`` atomic."""

    async def get(self, key: str) -> bytes | None:
        """The document, or None if nothing is stored under ``key``."""
        ...

    async def put_once(self, key: str, data: bytes) -> bytes:
        """Store ``data`` unless something is stored already; return what is stored."""
        ...

    async def replace(self, key: str, data: bytes) -> None:
        """Store ``data``, replacing any previous version (logos, not invoices)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the document if present."""
        ...


class FileDocumentStore:
    """Documents as files under one folder (by default ``<data_dir>/documents``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def put_once(self, key: str, data: bytes) -> bytes:
        return await asyncio.to_thread(self._put_once, self._path(key), data)

    async def replace(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), data, True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    def _put_once(self, path: Path, data: bytes) -> bytes:
        if self._write(path, data, False):
            return data
        return path.read_bytes()

    @staticmethod
    def _write(path: Path, data: bytes, overwrite: bool) -> bool:
        """Write through a temporary file so a reader never sees half a document.

        Without ``overwrite`` the final step is a hard link, which fails if the name
        exists: the first writer wins. Returns whether this call's data was stored.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if overwrite:
                os.replace(temporary, path)
                return True
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
            return True
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
