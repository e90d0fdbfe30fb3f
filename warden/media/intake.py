"""Media intake: turn every form of `Media` (bytes, local path, URL) into bytes, with limits.

- `data` is used as is (base64 was decoded by the JSON layer).
- `path` is read only where the caller allows it (CLI and Python API; the HTTP API refuses it):
  regular files only, size checked before reading and again while reading.
- `url` is fetched only when `media.fetch_enabled` is on and the host is on `media.fetch_allow_hosts`;
  the body is streamed with a byte cap, the whole fetch has a deadline, and redirects are followed
  by hand so that each hop is checked against the allow-list again.

Errors are `MediaIntakeError`s carrying the HTTP status an API should answer (413, 415, 422).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ..content import Content, Media
from ..errors import MediaError
from ..settings import Limits, MediaSettings

MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class MediaIntakeError(MediaError):
    """A media attachment that cannot be taken in; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def media_status(exc: Exception) -> int:
    """The HTTP status for a media problem: the error's own `status` when it has one (413 for a
    `MediaLimitError`: a broken limit), else 422 (corrupt, truncated, undecodable)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and 400 <= status < 500:
        return status
    return 422


class MediaBatchError(MediaError):
    """Some items' media could not be taken in, so nothing was decided: `failures` maps each such
    item's content id to its error (with `status`). Callers drop those items and moderate the rest."""

    def __init__(self, failures: dict[str, MediaIntakeError]) -> None:
        first_id, first = next(iter(failures.items()))
        more = f" (and {len(failures) - 1} more item(s))" if len(failures) > 1 else ""
        super().__init__(f"{first_id}: {first}{more}")
        self.failures = failures
        self.status = first.status if all(f.status == first.status for f in failures.values()) else 422


@dataclass(frozen=True)
class MediaBytes:
    """One attachment's bytes after intake, with what the caller (or the server fetched from) declared."""

    data: bytes
    content_type: str | None
    filename: str | None
    source: str  # "data" | "path" | "url"


def read_path(path: str | Path, max_bytes: int) -> bytes:
    """A local regular file's bytes, refusing devices, FIFOs, directories and files over max_bytes."""
    p = Path(path).expanduser()
    try:
        # O_NONBLOCK: opening a FIFO must not hang waiting for a writer; the stat check refuses it.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise MediaIntakeError(f"media file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise MediaIntakeError(f"media path {str(p)!r} is a directory, not a file") from None
    except OSError as exc:
        raise MediaIntakeError(f"cannot open media file {str(p)!r}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise MediaIntakeError(f"media path {str(p)!r} is not a regular file")
        if info.st_size > max_bytes:
            raise MediaIntakeError(
                f"media file {str(p)!r} has {info.st_size:,} bytes, limit is {max_bytes:,}", status=413
            )
        data = fh.read(max_bytes + 1)  # a file growing while we read is capped too
    if len(data) > max_bytes:
        raise MediaIntakeError(f"media file {str(p)!r} exceeds the limit of {max_bytes:,} bytes", status=413)
    return data


def host_allowed(host: str, allow: list[str]) -> bool:
    """Exact host names, or `*.example.com` for any subdomain of example.com (case-insensitive)."""
    host = host.lower().rstrip(".")
    for entry in allow:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


def _check_url(url: str, settings: MediaSettings) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise MediaIntakeError(f"media url {url[:200]!r}: only http and https URLs can be fetched")
    if not parts.hostname:
        raise MediaIntakeError(f"media url {url[:200]!r} has no host")
    if parts.username or parts.password:
        raise MediaIntakeError("media url must not carry credentials")
    if not host_allowed(parts.hostname, settings.fetch_allow_hosts):
        raise MediaIntakeError(
            f"media url host {parts.hostname!r} is not in media.fetch_allow_hosts", status=422
        )


def fetch_url(url: str, settings: MediaSettings, max_bytes: int) -> tuple[bytes, str | None]:
    """GET an allow-listed URL: (bytes, the server's Content-Type). Never follows a redirect off the list."""
    import httpx

    if not settings.fetch_enabled:
        raise MediaIntakeError(
            "media url given but fetching is disabled (media.fetch_enabled=false): send the bytes instead"
        )
    deadline = time.monotonic() + settings.fetch_timeout_s
    timeout = httpx.Timeout(settings.fetch_timeout_s)
    current = url
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(current, settings)
            try:
                with client.stream("GET", current, headers={"Accept": "image/*, video/*"}) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise MediaIntakeError(
                                f"media url {current[:200]!r} redirected without a Location"
                            )
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise MediaIntakeError(
                            f"fetching media url {current[:200]!r} returned HTTP {response.status_code}"
                        )
                    declared = response.headers.get("content-length")
                    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                        raise MediaIntakeError(
                            f"media url {current[:200]!r} declares {int(declared):,} bytes, "
                            f"limit is {max_bytes:,}",
                            status=413,
                        )
                    chunks: list[bytes] = []
                    total = 0
                    for chunk in response.iter_bytes(_CHUNK):
                        total += len(chunk)
                        if total > max_bytes:
                            raise MediaIntakeError(
                                f"media url {current[:200]!r} sent more than {max_bytes:,} bytes", status=413
                            )
                        if time.monotonic() > deadline:
                            raise MediaIntakeError(
                                f"fetching media url {current[:200]!r} took longer than "
                                f"{settings.fetch_timeout_s:g} s"
                            )
                        chunks.append(chunk)
                    return b"".join(chunks), response.headers.get("content-type")
            except httpx.TimeoutException:
                raise MediaIntakeError(
                    f"fetching media url {current[:200]!r} timed out after {settings.fetch_timeout_s:g} s"
                ) from None
            except httpx.HTTPError as exc:
                raise MediaIntakeError(f"fetching media url {current[:200]!r} failed: {exc}") from None
    raise MediaIntakeError(f"media url {url[:200]!r} redirected more than {MAX_REDIRECTS} times")


def resolve_media(media: Media, settings: MediaSettings, limits: Limits, *, allow_path: bool) -> MediaBytes:
    """One attachment's bytes (MediaIntakeError with a status when it cannot be taken in)."""
    max_bytes = limits.max_media_bytes
    if media.data is not None:
        if len(media.data) > max_bytes:
            raise MediaIntakeError(f"media has {len(media.data):,} bytes, limit is {max_bytes:,}", status=413)
        return MediaBytes(media.data, media.content_type, media.filename, "data")
    if media.path is not None:
        if not allow_path:
            raise MediaIntakeError(
                "media.path is not accepted over HTTP: send the bytes (base64 `data` or a multipart upload)"
            )
        data = read_path(media.path, max_bytes)
        return MediaBytes(data, media.content_type, media.filename or Path(media.path).name, "path")
    assert media.url is not None
    data, server_type = fetch_url(media.url, settings, max_bytes)
    # The caller's declaration wins; the server's type is checked against the bytes all the same.
    declared = media.content_type or (server_type.split(";")[0].strip() if server_type else None)
    name = media.filename or Path(urlsplit(media.url).path).name or None
    return MediaBytes(data, declared, name, "url")


def resolve_item(item: Content, settings: MediaSettings, limits: Limits, *, allow_path: bool) -> Content:
    """The item with every attachment in `data` form (so its content hash names the bytes)."""
    if not item.media or all(m.data is not None for m in item.media):
        return item
    resolved = []
    for index, media in enumerate(item.media):
        try:
            got = resolve_media(media, settings, limits, allow_path=allow_path)
        except MediaIntakeError as exc:
            raise MediaIntakeError(f"media[{index}]: {exc}", status=exc.status) from None
        resolved.append(Media(data=got.data, content_type=got.content_type, filename=got.filename))
    return item.model_copy(update={"media": resolved})
