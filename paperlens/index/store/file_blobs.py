"""The embedded store's blobs: plain files under the data directory (crops, original PDFs)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from paperlens.errors import NotFoundError


class FileBlobs:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def _path(self, key: str) -> Path:
        root = self.data_dir.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root):  # a key is data, never a way out of the data directory
            raise NotFoundError(f"no blob {key!r}")
        return path

    def put_blob(self, key: str, document_id: str, source: Path) -> None:
        dest = self._path(key)
        if dest.exists() and source.resolve() == dest:
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)

    def read_blob(self, key: str) -> bytes:
        path = self.blob_path(key)
        if path is None:
            raise NotFoundError(f"no blob {key!r}")
        return path.read_bytes()

    def blob_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def delete_blob(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
