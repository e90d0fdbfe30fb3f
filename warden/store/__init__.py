"""Data-access layer: every read and write of Warden's database goes through `Store`."""

from .store import ROLES, Store

__all__ = ["ROLES", "Store"]
