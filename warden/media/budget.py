"""Memory budgets of media decoding: per item, per request, and for the whole process.

A decoded picture costs about 4 bytes a pixel (Pillow keeps RGB as RGBX) while the compressed file
can be tiny: a 100 KB PNG may decode to 40 megapixels. So pixels, not bytes, are budgeted:

- `PixelAccount`: pixels decoded for one item (`limits.max_item_pixels`) or one request / one
  `moderate()` call (`limits.max_request_pixels`), charged from the headers before decoding;
  going over is a `MediaLimitError` (413) naming the setting.
- `DecodeBudget`: process-wide, at most `media.decode_workers` decodes at once holding at most
  `media.max_decoding_pixels` pixels together. A decode waits, in arrival order, until its pixels
  fit, so concurrent requests queue instead of multiplying memory. One `shared_budget` per setting
  pair, for every Moderator of the process.

The request account travels in a context variable: `request_pixels(limits)` opens it around a
request (the HTTP API, per request; `MediaTier.prepare` opens one per call when none is open).
`asyncio.to_thread` copies the context, so decodes in worker threads charge the same account.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..settings import Limits, MediaSettings
from .images import MediaLimitError


class PixelAccount:
    """Pixels decoded so far against a limit; `setting` names the limit in messages."""

    def __init__(self, limit: int, setting: str, scope: str) -> None:
        self.limit = limit
        self.setting = setting
        self.scope = scope  # "this item", "this request"
        self.used = 0
        self._lock = threading.Lock()

    def refusal(self, pixels: int) -> MediaLimitError | None:
        """The error charging `pixels` more would raise, or None when they fit."""
        if self.used + pixels <= self.limit:
            return None
        return MediaLimitError(
            f"{self.scope} would decode {self.used + pixels:,} pixels, "
            f"limit is {self.limit:,} ({self.setting})"
        )


def charge(accounts: tuple[PixelAccount, ...], pixels: int, check_only: bool = False) -> None:
    """Charge `pixels` to every account, or to none: MediaLimitError if one would go over.
    Negative `pixels` give back what an estimate charged too much."""
    pixels = int(pixels)
    locks = [a._lock for a in accounts]
    for lock in locks:
        lock.acquire()
    try:
        for account in accounts:
            error = account.refusal(pixels) if pixels > 0 else None
            if error is not None:
                raise error
        if not check_only:
            for account in accounts:
                account.used = max(0, account.used + pixels)
    finally:
        for lock in reversed(locks):
            lock.release()


def item_account(limits: Limits) -> PixelAccount:
    return PixelAccount(limits.max_item_pixels, "limits.max_item_pixels", "this item")


_request: ContextVar[PixelAccount | None] = ContextVar("warden_media_request_pixels", default=None)


def current_request() -> PixelAccount | None:
    """The request account opened by `request_pixels` in this context, if any."""
    return _request.get()


@contextmanager
def request_pixels(limits: Limits) -> Iterator[PixelAccount]:
    """Open the request account for the block (the one already open is kept when there is one)."""
    open_already = _request.get()
    if open_already is not None:
        yield open_already
        return
    account = PixelAccount(limits.max_request_pixels, "limits.max_request_pixels", "this request")
    token = _request.set(account)
    try:
        yield account
    finally:
        _request.reset(token)


class DecodeBudget:
    """At most `workers` reservations at once, holding at most `max_pixels` pixels together.

    `reserve(pixels)` blocks until it is first in line and both fit; a reservation above
    `max_pixels` counts as `max_pixels` (it runs alone rather than never)."""

    def __init__(self, workers: int, max_pixels: int) -> None:
        if workers < 1 or max_pixels < 1:
            raise ValueError(
                f"decode budget needs workers >= 1 and max_pixels >= 1, got {workers}, {max_pixels}"
            )
        self.workers = workers
        self.max_pixels = max_pixels
        self._cond = threading.Condition()
        self._line: deque[object] = deque()
        self._active = 0
        self._used = 0

    @property
    def active(self) -> int:
        """Reservations held now."""
        with self._cond:
            return self._active

    @property
    def used(self) -> int:
        """Pixels reserved now."""
        with self._cond:
            return self._used

    @property
    def waiting(self) -> int:
        """Reservations waiting for their turn."""
        with self._cond:
            return len(self._line)

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        need = min(max(int(pixels), 1), self.max_pixels)
        ticket = object()
        with self._cond:
            self._line.append(ticket)
            try:
                self._cond.wait_for(
                    lambda: (
                        self._line[0] is ticket
                        and self._active < self.workers
                        and self._used + need <= self.max_pixels
                    )
                )
            finally:
                # Served or interrupted: leave the line either way, and let the next one look.
                self._line.remove(ticket)
                self._cond.notify_all()
            self._active += 1
            self._used += need
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._used -= need
                self._cond.notify_all()


_budgets: dict[tuple[int, int], DecodeBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(media: MediaSettings) -> DecodeBudget:
    """The process's decode budget for these settings (one per `decode_workers`, `max_decoding_pixels`)."""
    key = (media.decode_workers, media.max_decoding_pixels)
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = DecodeBudget(*key)
        return budget
