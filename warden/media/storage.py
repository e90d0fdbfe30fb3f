"""Content-addressed media copies (sha256 file names) so reviewers can see what was judged."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from ..errors import NotFoundError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class MediaStore:
    """Files under `root/ab/abcdef...` with a `.json` sidecar holding the content type.

    Writes are atomic (temp file + rename), so concurrent writers of the same bytes are harmless."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise NotFoundError(f"not a sha256 digest: {digest[:80]!r}")
        return self.root / digest[:2] / digest

    def put(self, data: bytes, content_type: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, payload in (
            (path.with_suffix(".json"), json.dumps({"content_type": content_type}).encode()),
            (path, data),
        ):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, target)
        return digest

    def get(self, digest: str) -> tuple[bytes, str]:
        """The bytes and content type; NotFoundError when absent."""
        path = self._path(digest)
        if not path.exists():
            raise NotFoundError(f"media {digest} is not in the media store")
        meta = path.with_suffix(".json")
        content_type = (
            json.loads(meta.read_text()).get("content_type", "application/octet-stream")
            if meta.exists()
            else "application/octet-stream"
        )
        return path.read_bytes(), content_type

    def __contains__(self, digest: str) -> bool:
        try:
            return self._path(digest).exists()
        except NotFoundError:
            return False
