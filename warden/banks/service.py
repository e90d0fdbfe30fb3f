"""BankService: the one place bank changes are validated, stored, audited and applied to the matcher.

The API and the CLI both go through it, so a rule (a bank's category must exist in the policy,
a PDQ value must be 64 hex digits) holds everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ValidationError
from ..policy.model import Policy
from ..store.banks import BankRepository
from .exchange import RawEntry, export, parse
from .matcher import BankMatcher
from .model import AddResult, Bank, BankEntry, NewEntry
from .signal_types import canonical_name

BANK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ACTIONS = ("allow", "label", "age_restrict", "limit", "remove", "review")


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
        if errors and not skip_invalid:
            shown = "; ".join(errors[:20]) + (f"; and {len(errors) - 20} more" if len(errors) > 20 else "")
            raise ValidationError(
                f"{len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'}, none added: {shown}"
            )
        result = self.repo.add_entries(bank, valid, actor)
        self.matcher.apply(result.added, self.repo.bank_ids())
        return result, errors

    def import_text(
        self, bank: str, text: str, fmt: str, actor: str, source: str = "", skip_invalid: bool = False
    ) -> tuple[AddResult, list[str]]:
        try:
            raw, parse_errors = parse(text, fmt, source=source)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        messages = [str(e) for e in parse_errors]
        if messages and not skip_invalid:
            raise ValidationError(
                f"{len(messages)} unreadable line(s), none added: " + "; ".join(messages[:20])
            )
        result, errors = self.add_entries(bank, raw, actor, skip_invalid=skip_invalid)
        return result, messages + errors

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

    # -- lookups ---------------------------------------------------------------------------------
    def raw_from_dicts(self, items: Sequence[Mapping[str, Any]]) -> list[RawEntry]:
        """API entries (already schema-checked) as RawEntry; negative `line` encodes the list index."""
        return [
            RawEntry(
                line=-(i + 1),
                signal_type=str(item["signal_type"]),
                value=str(item["value"]),
                quality=item.get("quality"),
                note=item.get("note") or "",
                source=item.get("source") or "",
                enabled=item.get("enabled", True),
            )
            for i, item in enumerate(items)
        ]
