"""`warden ray rescore`: re-score history with a candidate policy and/or model version on Ray Data.

The content of past items comes from the platform's own archive (JSONL files of items, the objects
`POST /v1/moderate` takes): the decisions table never stores content. For every item the baseline is
its stored decision (by content id) when the store has one with the same content, else the live
pipeline's decision computed now; the candidate decides it too. The driver folds the per-batch
`DiffSummary` parts into one report (per action transition and category, how many flip, examples)
and `--write` makes the candidate's decision the current version of each stored one (the old
version kept in the history, human revisions never overwritten).

Ray Data reads the files and runs `Rescorer` in a pool of actors, each loading the models once;
`RAY_ADDRESS` (or `--address`) runs the same command on a real cluster, where the files must be
readable by every node (shared storage or an object store URL Ray Data reads) and the database
reachable from them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from .content import Content
from .errors import ConfigError
from .moderator import Moderator
from .policy.model import load_policy
from .shadow import DiffSummary, flagged_categories

if TYPE_CHECKING:
    from .settings import Settings

_REQUIRED = ("id",)


@dataclass
class RescoreOptions:
    policy_path: Path | None = None  # the candidate's policy; None: the live one
    models_dir: Path | None = None  # the candidate's models; None: the live ones
    write: bool = False
    examples: int = 10

    def check(self) -> None:
        if self.policy_path is None and self.models_dir is None:
            raise ConfigError("a candidate needs --policy and/or --models (what would change?)")


class Rescorer:
    """One actor's state: the live and candidate moderators and the store, built once."""

    def __init__(self, settings: Settings, options: RescoreOptions) -> None:
        from .bootstrap import open_store

        self.options = options
        self.store = open_store(settings)
        self.live = Moderator.from_settings(settings.override(pipeline={"cascade_exits": True})).load()
        policy = load_policy(options.policy_path) if options.policy_path else self.live.policy
        if options.models_dir is not None:
            self.candidate = Moderator.from_settings(
                settings.model_copy(update={"models_dir": options.models_dir}), policy
            ).load()
        else:
            self.candidate = self.live.with_policy(policy).load()
        self.actor = f"system:rescore:{self.candidate.versions.policy}/{self.candidate.versions.pipeline}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """A Ray Data batch (column -> values) in, one row per input item out: the summary part of
        this batch (JSON, in the first row) and per item whether it was written or refused."""
        items, refused = parse_rows(batch)
        summary = DiffSummary(self.options.examples)
        revised = kept = 0
        if items:
            stored = self.store.find_decisions_by_content_ids([i.id for i in items])
            baseline = {
                i.id: stored[i.id]
                for i in items
                if i.id in stored and stored[i.id].content_hash == i.content_hash()
            }
            missing = [i for i in items if i.id not in baseline]
            if missing:
                baseline.update({d.content_id: d for d in self.live.moderate(missing)})
            candidate = self.candidate.moderate(items)
            for decision in candidate:
                before = baseline[decision.content_id]
                summary.add(
                    decision.content_id,
                    before.action,
                    decision.action,
                    flagged_categories(before),
                    flagged_categories(decision),
                )
            if self.options.write:
                revised, kept = self.store.revise_decisions(
                    [d for d in candidate if d.content_id in stored], self.actor, "rescore"
                )
        n = len(next(iter(batch.values()))) if batch else 0
        part = json.dumps(
            {"summary": summary_state(summary), "refused": refused, "revised": revised, "kept": kept}
        )
        return {"part": [part] + [""] * (n - 1)}


def parse_rows(batch: dict[str, Any]) -> tuple[list[Content], list[str]]:
    """Content per row of a columnar batch; rows that are not valid items are refused with why."""
    columns = list(batch)
    n = len(batch[columns[0]]) if columns else 0
    items: list[Content] = []
    refused: list[str] = []
    seen: set[str] = set()
    for k in range(n):
        row = {c: _plain(batch[c][k]) for c in columns}
        row = {c: v for c, v in row.items() if v is not None}
        try:
            item = Content.model_validate(row)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            refused.append(f"{row.get('id', f'row {k}')}: {'.'.join(map(str, first['loc']))}: {first['msg']}")
            continue
        if item.id in seen:
            refused.append(f"{item.id}: duplicate id in the input")
            continue
        seen.add(item.id)
        items.append(item)
    return items, refused


def _plain(value: Any) -> Any:
    """Ray/pyarrow cells to plain Python (NaN for a missing value in a sparse column is None)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and value != value:
        return None
    return value


def summary_state(summary: DiffSummary) -> dict[str, Any]:
    return {
        "items": summary.items,
        "same_action": summary.same_action,
        "same_flagged": summary.same_flagged,
        "transitions": dict(summary.transitions),
        "up": dict(summary.up),
        "down": dict(summary.down),
        "examples": summary.examples,
    }


def summary_from_state(state: dict[str, Any], examples: int) -> DiffSummary:
    out = DiffSummary(examples)
    out.items, out.same_action, out.same_flagged = state["items"], state["same_action"], state["same_flagged"]
    out.transitions.update(state["transitions"])
    out.up.update(state["up"])
    out.down.update(state["down"])
    out.examples = list(state["examples"])
    return out


def rescore_on_ray(
    files: Sequence[Path],
    settings: Settings,
    options: RescoreOptions,
    actors: int = 2,
    batch_size: int = 64,
    address: str | None = None,
) -> dict[str, Any]:
    """Run the re-score over JSONL `files` on Ray Data and return the report."""
    import ray

    options.check()
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"no such input file(s): {', '.join(missing)}")
    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    ds = ray.data.read_json([str(Path(f).resolve()) for f in files], lines=True)
    parts = ds.map_batches(
        Rescorer,
        fn_constructor_args=(settings, options),
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=actors,
        num_cpus=1,
    )
    total = DiffSummary(options.examples)
    refused: list[str] = []
    revised = kept = 0
    for batch in parts.iter_batches(batch_size=None, batch_format="numpy"):
        for cell in batch["part"]:
            if not cell:
                continue
            part = json.loads(str(cell))
            total.merge(summary_from_state(part["summary"], options.examples))
            refused += part["refused"]
            revised += part["revised"]
            kept += part["kept"]
    seconds = time.perf_counter() - started
    return {
        **total.as_dict(),
        "refused": len(refused),
        "refused_examples": refused[:10],
        "written": options.write,
        "revised": revised,
        "kept_human_or_absent": kept,
        "seconds": round(seconds, 1),
        "items_per_s": round(total.items / seconds, 1) if seconds > 0 else None,
    }
