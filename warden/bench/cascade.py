"""Cascade area: the LLM policy judge's throughput, and the cascade's quality/cost trade-off.

Trade-off: on a seeded sample of the data sets' test splits (no threshold was chosen on them),
the same items go through four configurations: the fast tier alone, the full cascade without
early exits, the default cascade (benign exits from cascade.json, no judge), and the default
cascade with the LLM judge on the uncertain band. For each: F1 of "flagged" against "violating",
the share of items escalated past the fast tier (and to the judge), items/s and relative cost per
1,000 items (the sum of the stage costs each decision records).

Figures: judge_items_per_s (one category per item, the way the cascade asks about the
uncertain band), judge_all_categories_s_per_item (every policy category, grouped by
`categories_per_call`, one batch), judge_p50_ms, judge_prompt_tokens_per_item,
judge_completion_tokens_per_item. The default judge runs SmolLM2-135M-Instruct in-process
through llama.cpp with 2 threads; the cache is off so every item reaches the model.
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console

from ..content import Content
from ..llm.backends import CountingBackend, backend_from_settings
from ..llm.config import JudgeSettings
from ..llm.judge import PolicyJudge
from ..policy.model import load_policy
from ..settings import get_settings
from .text import _texts

console = Console()


def judge_figures(
    settings: JudgeSettings | None = None, n_items: int = 24, n_all_categories: int = 4
) -> dict[str, float]:
    app = get_settings()
    policy = load_policy(app.policy_path)
    settings = (settings or JudgeSettings()).model_copy(update={"cache_size": 0, "cache_path": None})
    backend = CountingBackend(backend_from_settings(settings))
    texts = _texts(n_items + n_all_categories)
    one = PolicyJudge(policy, backend, settings.model_copy(update={"categories": ["hate"]}))
    one.load()
    one.judge(Content(id="warm-up", text="warm up"))
    latencies: list[float] = []
    calls0, prompt0, completion0 = backend.calls, backend.prompt_tokens, backend.completion_tokens
    started = time.perf_counter()
    for i, text in enumerate(texts[:n_items]):
        t0 = time.perf_counter()
        one.judge(Content(id=f"b{i}", text=text))
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    figures = {
        "judge_items_per_s": n_items / elapsed,
        "judge_p50_ms": statistics.median(latencies),
        "judge_prompt_tokens_per_item": (backend.prompt_tokens - prompt0) / max(1, backend.calls - calls0),
        "judge_completion_tokens_per_item": (backend.completion_tokens - completion0)
        / max(1, backend.calls - calls0),
    }
    every = PolicyJudge(policy, backend, settings.model_copy(update={"categories": None}))
    started = time.perf_counter()
    every.judge_many([Content(id=f"a{i}", text=text) for i, text in enumerate(texts[n_items:])])
    figures["judge_all_categories_s_per_item"] = (time.perf_counter() - started) / max(1, n_all_categories)
    backend.close()
    return figures


def cascade_figures(n_items: int = 400, seed: int = 3) -> tuple[dict[str, float], list[dict[str, object]]]:
    from rich.table import Table

    from ..cascade import f1_score
    from ..learn.validation import validation_sample
    from ..moderator import Moderator
    from ..runtime.embedders import clear_embedder_caches

    base = get_settings()
    items, truth_arr = validation_sample(base.data_dir, n_items, seed=seed, split="test")
    truth = [bool(t) for t in truth_arr]
    configs = {
        "fast_only": base.override(pipeline={"enable_encoder": False, "enable_multilingual": False}),
        "full_no_exits": base.override(pipeline={"cascade_exits": False}),
        "cascade": base,
        # Cache off: the warm-up items would otherwise be answered from it.
        "cascade_judge": base.model_copy(
            update={
                "judge": base.judge.model_copy(update={"enabled": True, "cache_size": 0, "cache_path": None})
            }
        ),
    }
    rows: list[dict[str, object]] = []
    figures: dict[str, float] = {}
    for name, settings in configs.items():
        moderator = Moderator.from_settings(settings).load()
        moderator.moderate(items[:4])  # warm-up
        # Every configuration sees the same texts: without this, later ones read cached embeddings.
        clear_embedder_caches()
        started = time.perf_counter()
        decisions = moderator.moderate(items)
        elapsed = time.perf_counter() - started
        stages = [[s.name for s in d.stages] for d in decisions]
        row = {
            "config": name,
            "f1": round(f1_score([d.flagged for d in decisions], truth), 4),
            "escalated_share": round(sum("encoder" in s for s in stages) / len(items), 4),
            "judged_share": round(sum("judge" in s for s in stages) / len(items), 4),
            "review_share": round(sum(d.action == "review" for d in decisions) / len(items), 4),
            "items_per_s": round(len(items) / elapsed, 2),
            "cost_per_1000": round(
                1000 * sum(sum(s.cost for s in d.stages) for d in decisions) / len(items), 1
            ),
        }
        rows.append(row)
    table = Table(*rows[0].keys(), title=f"cascade trade-off on {len(items)} test-split items")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    by = {str(r["config"]): r for r in rows}
    for name, row in by.items():
        for key in ("f1", "escalated_share", "judged_share", "review_share", "items_per_s", "cost_per_1000"):
            figures[f"{name}_{key}"] = float(row[key])  # type: ignore[arg-type]
    return figures, rows


def run() -> dict[str, float]:
    figures = judge_figures()
    figures.update(cascade_figures()[0])
    return {k: round(float(v), 4) for k, v in figures.items()}
