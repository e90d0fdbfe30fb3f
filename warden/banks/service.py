"""BankService: the one place bank changes are validated, stored, audited and applied to the matcher.

The API and the CLI both go through it, so a rule (a bank's category must exist in the policy,
a PDQ value must be 64 hex digits) holds everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, get_args

from ..errors import ValidationError
from ..policy.model import ActionName, Policy
from ..store.banks import BankRepository
from .exchange import RawEntry, export, parse
from .matcher import BankMatcher
from .model import AddResult, Bank, BankEntry, NewEntry
from .signal_types import canonical_name

IMPORT_CHUNK = 10_000  # entries per transaction when importing files


def _reject(problems: list[str], what: str) -> None:
    """All-or-nothing: one problem rejects the batch, every problem named (the first 20)."""
    if problems:
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValidationError(f"{len(problems)} {what}, none added: {'; '.join(problems[:20])}{more}")


def _shift(duplicate: dict[str, Any], offset: int) -> dict[str, Any]:
    """Duplicate positions of a chunk, as positions in the whole import."""
    out = dict(duplicate, index=duplicate["index"] + offset)
    if out.get("duplicate_of_index") is not None:
        out["duplicate_of_index"] += offset
    return out


BANK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ACTIONS: tuple[str, ...] = get_args(ActionName)


class BankService:
    def __init__(self, repo: BankRepository, matcher: BankMatcher, policy: Policy) -> None:
        self.repo = repo
        self.matcher = matcher
        self.policy = policy

    # -- banks -----------------------------------------------------------------------------------
    def _check_category_action(self, category: str, action: str) -> None:
        if category not in self.policy.category_ids:
            raise ValidationError(
                f"category {category!r} is not in policy {self.policy.full_version}; "
                f"known: {', '.join(self.policy.category_ids)}"
            )
        if action not in ACTIONS:
            raise ValidationError(f"action {action!r} is not one of {', '.join(ACTIONS)}")

    def create_bank(
        self, name: str, category: str, action: str, description: str = "", actor: str = "cli"
    ) -> Bank:
        if not BANK_NAME.match(name):
            raise ValidationError(
                f"bank name {name!r}: 1-64 lowercase letters, digits, '.', '_' or '-', starting alphanumeric"
            )
        self._check_category_action(category, action)
        return self.repo.create_bank(name, category, action, description, actor)

    def update_bank(self, name: str, actor: str, **changes: Any) -> Bank:
        changes = {k: v for k, v in changes.items() if v is not None}
        current = self.repo.get_bank(name)
        self._check_category_action(
            changes.get("category", current.category), changes.get("action", current.action)
        )
        bank = self.repo.update_bank(name, actor, **changes)
        self.matcher.apply(self.repo.iter_entries(name), self.repo.bank_ids())
        return bank

    def delete_bank(self, name: str, actor: str) -> int:
        bank = self.repo.get_bank(name)
        entries = list(self.repo.iter_entries(name))
        gone = self.repo.delete_bank(name, actor)
        self.matcher.apply(entries, {k: v for k, v in self.repo.bank_ids().items() if k != bank.id})
        return gone

    # -- entries ---------------------------------------------------------------------------------
    def validate(self, raw: Sequence[RawEntry]) -> tuple[list[NewEntry], list[str]]:
        """Canonical entries and a message per invalid one (naming its line or index)."""
        valid: list[NewEntry] = []
        errors: list[str] = []
        for item in raw:
            try:
                name = canonical_name(item.signal_type)
                value = self.matcher.types[name].validate(item.value)
                if item.quality is not None and not 0 <= item.quality <= 100:
                    raise ValueError(f"quality {item.quality} is outside 0..100")
                valid.append(NewEntry(name, value, item.quality, item.source, item.note, item.enabled))
            except ValueError as exc:
                errors.append(
                    f"line {item.line}: {exc}" if item.line > 0 else f"entries[{-item.line - 1}]: {exc}"
                )
        return valid, errors

    def add_entries(
        self, bank: str, raw: Sequence[RawEntry], actor: str, skip_invalid: bool = False
    ) -> tuple[AddResult, list[str]]:
        """Validate then add. Without `skip_invalid`, one invalid entry rejects the whole batch."""
        self.repo.get_bank(bank)  # 404 before validation work
        valid, errors = self.validate(raw)
        if not skip_invalid:
            _reject(errors, "invalid entries")
        result = self.repo.add_entries(bank, valid, actor)
        self.matcher.apply(result.added, self.repo.bank_ids())
        return result, errors

    def import_text(
        self,
        bank: str,
        text: str,
        fmt: str,
        actor: str,
        source: str = "",
        skip_invalid: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[AddResult, list[str]]:
        """Parse, validate and add a hash file in chunks (`progress(done, total)` after each)."""
        try:
            raw, parse_errors = parse(text, fmt, source=source)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        self.repo.get_bank(bank)
        valid, errors = self.validate(raw)
        problems = [str(e) for e in parse_errors] + errors
        if not skip_invalid:
            _reject(problems, "unreadable or invalid lines")
        result = AddResult()
        for lo in range(0, len(valid), IMPORT_CHUNK):
            part = self.repo.add_entries(bank, valid[lo : lo + IMPORT_CHUNK], actor)
            self.matcher.apply(part.added, self.repo.bank_ids())
            result.added += part.added
            result.duplicates += [_shift(d, lo) for d in part.duplicates]
            if progress is not None:
                progress(min(lo + IMPORT_CHUNK, len(valid)), len(valid))
        return result, problems

    def export_text(self, bank: str, fmt: str) -> Iterable[str]:
        self.repo.get_bank(bank)
        names = {name: t.exchange_name for name, t in self.matcher.types.items()}
        return export(self.repo.iter_entries(bank), fmt, names)

    def set_entry(
        self, bank: str, entry_id: int, actor: str, enabled: bool | None = None, note: str | None = None
    ) -> BankEntry:
        entry = self.repo.set_entry(bank, entry_id, actor, enabled=enabled, note=note)
        self.matcher.apply([entry], self.repo.bank_ids())
        return entry

    def delete_entry(self, bank: str, entry_id: int, actor: str) -> BankEntry:
        entry = self.repo.delete_entry(bank, entry_id, actor)
        self.matcher.apply([entry], self.repo.bank_ids())
        return entry
