"""The bank records (banks, entries, matches). They are defined with the store's records
(`warden/store/bank_records.py`), so the store needs nothing from this package; import them from here."""

from ..store.bank_records import AddResult, Bank, BankEntry, BankMatch, NewEntry

__all__ = ["AddResult", "Bank", "BankEntry", "BankMatch", "NewEntry"]
