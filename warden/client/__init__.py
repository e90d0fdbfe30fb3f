"""Python client of Warden's HTTP API: `WardenClient` (sync) and `AsyncWardenClient` (async)."""

from .client import AsyncWardenClient, BatchResult, RetryPolicy, WardenAPIError, WardenClient

__all__ = ["AsyncWardenClient", "BatchResult", "RetryPolicy", "WardenAPIError", "WardenClient"]
