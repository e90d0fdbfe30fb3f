"""Quality area: how the text tier does on content it was not trained on.

In-domain test splits flatter a model (same source, same annotators, same topics), so this area
measures what a new platform would see:

(a) leave one data-set family out: the shipped training (`warden train`, every stage: fast tier,
    encoder heads, fusion and calibration) is re-run without the family, and the resulting pipeline
    is run on the family's items: `loo_<family>_f1`, `_pr_auc`, `_fpr`, and `loo_mean_f1`;
(b) the team's contrast suite (`warden/data/contrast/test/`, never trained on), per phenomenon and
    language: `contrast_nonviolating_accuracy` (not flagged in any category the item is labelled
    for), `contrast_violating_recall` (flagged for its own category), `contrast_<phenomenon>_acc`,
    `contrast_lang_<lang>_acc`;
(c) `benign_flag_rate`: the share of a benign-only mixture (items every category of which is labelled
    benign, from the test split of every data set, at most 300 per set) that gets flagged, per source
    (`benign_flag_rate_<data set>`) and per category at its policy threshold
    (`benign_flag_rate_category_<category>`);
(d) `language_acc_<lang>` on the test splits and `min_language_accuracy` (languages with 100+ items);
(e) benign exits: `exit_benign_share_after_fast_tier` (the benign mixture's share that the fitted
    `cascade.json` lets leave after the fast tier) and `exit_recall_lost` (own-category recall on
    violating test items, with exits against without).

Partial labels are honoured everywhere: an item counts as flagged only for a category its data set
labels (an item labelled "not hate" that is flagged for profanity is neither right nor wrong), and a
violating item is "caught" for (b) only by its own category.

(b)-(d) score the shipped models (`settings.models_dir`). (a) trains once per family (minutes each on
two cores; embeddings come from the shared cache): `WARDEN_BENCH_LOO_FAMILIES=a,b` limits it to some
families, `WARDEN_BENCH_LOO_FAMILIES=none` skips it, `WARDEN_BENCH_LOO_CAP` caps the items per data set
used to train each fold (default 0: none, the full recipe, whose embeddings `warden train` cached in
`.cache/embeddings`), `WARDEN_BENCH_LOO_EVAL` (default 600) the items evaluated per family.
A finished fold's figures are kept in `.cache/loo/` under a key of the training code, the policy, the
items and these options: an interrupted run resumes, and a change to any of them re-runs the folds.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from ..content import Content
from ..decision import Decision
from ..evaluate.metrics import binary_metrics
from ..learn.datasets import DATASETS, LabeledText, load_datasets, sample_key
from ..learn.datasets import families as all_families
from ..moderator import Moderator
from ..policy.model import Policy, load_policy
from ..settings import Settings, get_settings

console = Console()
BENIGN_PER_DATASET = 300
MIN_LANGUAGE_ITEMS = 100
BATCH = 256
# Finished leave-one-out folds (see `loo_figures`), beside the embedding cache.
LOO_CACHE_DIR = Path(".cache/loo")


@dataclass
class Scored:
    """One item's outcome, restricted to the categories its labels speak about."""

    item: LabeledText
    flagged_known: bool  # flagged in a category the item is labelled for
    caught_own: bool  # flagged in one of its positive categories
    score_known: float  # highest probability over its labelled categories
    flagged: frozenset[str] = frozenset()  # every category flagged


def _sample(items: Sequence[LabeledText], n: int) -> list[LabeledText]:
    """A deterministic sample (the project's id-hash order), so every run and every model sees the
    same items."""
    return sorted(items, key=sample_key)[:n]


def decide(moderator: Moderator, items: Sequence[LabeledText]) -> list[Decision]:
    """The moderator's decisions on the items' texts, in batches."""
    return [
        d
        for start in range(0, len(items), BATCH)
        for d in moderator.moderate(
            [
                Content(id=f"q{start + k}", text=i.text[:20_000] or " ")
                for k, i in enumerate(items[start : start + BATCH])
            ]
        )
    ]


def score_items(moderator: Moderator, items: Sequence[LabeledText]) -> list[Scored]:
    out: list[Scored] = []
    for item, decision in zip(items, decide(moderator, items), strict=True):
        known = [c for c in item.labels if c in decision.categories]
        if not known and item.any_violation == 1:
            known = list(decision.categories)  # violating, category unknown: any category counts
        flagged = {c for c, s in decision.categories.items() if s.flagged}
        out.append(
            Scored(
                item=item,
                flagged_known=any(c in flagged for c in known),
                caught_own=any(c in flagged for c in item.positives()),
                score_known=max((decision.categories[c].probability for c in known), default=0.0),
                flagged=frozenset(flagged),
            )
        )
    return out


def _violating(s: Scored) -> bool:
    return s.item.any_violation == 1 or any(s.item.labels.get(c) == 1 for c in s.item.labels)


def detection_metrics(scored: Sequence[Scored]) -> dict[str, float]:
    """F1 / PR-AUC / FPR of "flagged in a labelled category" against "violates a labelled category"."""
    rows = [s for s in scored if s.item.labels or s.item.any_violation == 1]
    y = np.array([_violating(s) for s in rows], dtype=bool)
    m = binary_metrics(
        y,
        np.array([s.score_known for s in rows]),
        np.array([s.flagged_known for s in rows], dtype=bool),
    )
    return {
        "f1": m["f1"] or 0.0,
        "pr_auc": m["pr_auc"] or 0.0,
        "fpr": m["fpr"] or 0.0,
        "n": float(len(rows)),
        "positives": float(y.sum()),
    }


def contrast_figures(moderator: Moderator, suite: Sequence[LabeledText]) -> dict[str, float]:
    if not suite:
        console.print("[yellow]no contrast suite (warden/data/contrast/test/): contrast figures skipped[/]")
        return {}
    scored = score_items(moderator, suite)
    right = [not s.flagged_known if not s.item.positives() else s.caught_own for s in scored]
    figures: dict[str, float] = {}
    benign = [r for r, s in zip(right, scored, strict=True) if not s.item.positives()]
    violating = [r for r, s in zip(right, scored, strict=True) if s.item.positives()]
    figures["contrast_nonviolating_accuracy"] = float(np.mean(benign)) if benign else 0.0
    figures["contrast_violating_recall"] = float(np.mean(violating)) if violating else 0.0
    by_phenomenon: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[str, list[bool]] = defaultdict(list)
    for r, s in zip(right, scored, strict=True):
        by_phenomenon[s.item.phenomenon or "unspecified"].append(r)
        by_language[s.item.language].append(r)
    for name, values in sorted(by_phenomenon.items()):
        figures[f"contrast_{name}_acc"] = float(np.mean(values))
    for name, values in sorted(by_language.items()):
        figures[f"contrast_lang_{name}_acc"] = float(np.mean(values))
    figures["contrast_items"] = float(len(scored))
    return figures


def benign_mixture(items: Sequence[LabeledText]) -> list[LabeledText]:
    """Fully benign test items (every category labelled 0), at most BENIGN_PER_DATASET per data set."""
    by_set: dict[str, list[LabeledText]] = defaultdict(list)
    for item in items:
        if item.split == "test" and item.any_violation == 0 and item.dataset != "warden-contrast":
            by_set[item.dataset].append(item)
    return [i for name in sorted(by_set) for i in _sample(by_set[name], BENIGN_PER_DATASET)]


def benign_figures(moderator: Moderator, items: Sequence[LabeledText]) -> dict[str, float]:
    mixture = benign_mixture(items)
    scored = score_items(moderator, mixture)
    figures = {"benign_flag_rate": float(np.mean([s.flagged_known for s in scored])) if scored else 0.0}
    by_set: dict[str, list[bool]] = defaultdict(list)
    for s in scored:
        by_set[s.item.dataset].append(s.flagged_known)
    for name, values in sorted(by_set.items()):
        figures[f"benign_flag_rate_{name}"] = float(np.mean(values))
    # Next to each category's threshold: the share of benign traffic it flags.
    for category in moderator.policy.category_ids:
        figures[f"benign_flag_rate_category_{category}"] = (
            float(np.mean([category in s.flagged for s in scored])) if scored else 0.0
        )
    figures["benign_items"] = float(len(scored))
    return figures


def language_figures(
    moderator: Moderator, items: Sequence[LabeledText], per_language: int = 600
) -> dict[str, float]:
    by_language: dict[str, list[LabeledText]] = defaultdict(list)
    for item in items:
        if item.split == "test" and item.labels and item.dataset != "warden-contrast":
            by_language[item.language].append(item)
    figures: dict[str, float] = {}
    for language, group in sorted(by_language.items()):
        if len(group) < MIN_LANGUAGE_ITEMS:
            continue
        scored = score_items(moderator, _sample(group, per_language))
        figures[f"language_acc_{language}"] = float(
            np.mean([s.flagged_known == _violating(s) for s in scored])
        )
    accuracies = [v for k, v in figures.items() if k.startswith("language_acc_")]
    figures["min_language_accuracy"] = min(accuracies) if accuracies else 0.0
    return figures


def exit_figures(
    settings: Settings, policy: Policy, items: Sequence[LabeledText], n: int = 1500
) -> dict[str, float]:
    """Benign exits (`cascade.json`): the share of the benign mixture that leaves after the fast tier,
    and the recall on violating test items lost against the same pipeline without exits."""
    benign = _sample(benign_mixture(items), n)
    violating = _sample(
        [i for i in items if i.split == "test" and i.positives() and i.dataset != "warden-contrast"], n
    )
    with_exits = Moderator.from_settings(settings.override(pipeline={"cascade_exits": True}), policy).load()
    if not any(stage.exit_below is not None for stage in with_exits.pipeline.stages):
        console.print("[yellow]no benign exits fitted (cascade.json): nothing leaves after the fast tier[/]")
    exited = [not any("encoder" in s.name for s in d.stages) for d in decide(with_exits, benign)]
    caught_exits = [s.caught_own for s in score_items(with_exits, violating)]
    without = Moderator.from_settings(settings.override(pipeline={"cascade_exits": False}), policy).load()
    caught_full = [s.caught_own for s in score_items(without, violating)]
    full = float(np.mean(caught_full)) if caught_full else 0.0
    return {
        "exit_benign_share_after_fast_tier": float(np.mean(exited)) if exited else 0.0,
        "exit_recall_without_exits": full,
        "exit_recall_lost": full - (float(np.mean(caught_exits)) if caught_exits else 0.0),
    }


def loo_families(items: Sequence[LabeledText]) -> dict[str, list[str]]:
    """Family -> its trainable data sets among `items` (evaluation-only sets and the contrast suite
    are never trained on anyway: nothing to leave out)."""
    present = {i.dataset for i in items}
    out = {
        family: [n for n in members if n in present and DATASETS[n].train_use]
        for family, members in all_families().items()
        if family != "warden-contrast"
    }
    return {f: m for f, m in out.items() if m}


def loo_fold(
    settings: Settings,
    policy: Policy,
    items: Sequence[LabeledText],
    family: str,
    out_dir: Path,
    cap: int | None = None,
    n_eval: int = 600,
    **train_options: object,
) -> tuple[dict[str, float], dict[str, object]]:
    """Train every stage without `family`'s sets, then score (up to `n_eval` of) the family's
    labelled items with that fold's pipeline: (detection metrics, training report)."""
    from ..learn.train import TrainConfig, train

    families = loo_families(items)
    if family not in families:
        raise ValueError(f"unknown family {family!r}; known: {sorted(families)}")
    members = families[family]
    trainable = sorted({n for group in families.values() for n in group})
    config = TrainConfig(
        data_dir=Path(settings.data_dir),
        out_dir=out_dir,
        datasets=[n for n in trainable if n not in members],
        max_items_per_dataset=cap,
        model_version=f"loo-{family}",
        **train_options,  # type: ignore[arg-type]
    )
    report = train(policy, config, console)
    fold = settings.model_copy(update={"models_dir": out_dir}).override(pipeline={"cascade_exits": False})
    moderator = Moderator.from_settings(fold, policy).load()
    return detection_metrics(score_items(moderator, loo_held_out(items, members, n_eval))), report


def loo_held_out(items: Sequence[LabeledText], members: Sequence[str], n_eval: int) -> list[LabeledText]:
    """The labelled items of the held-out sets (every split: none was trained on), a fixed sample."""
    return _sample([i for i in items if i.dataset in members and (i.labels or i.any_violation == 1)], n_eval)


def _fold_key(
    policy: Policy, items: Sequence[LabeledText], members: Sequence[str], cap: int | None, n_eval: int
) -> str:
    """What a fold's result depends on: the training code (`learn/*.py`; the data-set loaders in
    `learn/datasets/` act through the items, which are hashed whole), the policy, the items and the
    options."""
    digest = hashlib.sha256(f"{sorted(members)}:{cap}:{n_eval}".encode())
    for source in sorted((Path(__file__).resolve().parents[1] / "learn").glob("*.py")):
        digest.update(source.read_bytes())
    digest.update(policy.model_dump_json().encode())
    for item in sorted(items, key=lambda i: i.id):
        digest.update(f"{item.id}\x00{item.split}\x00{sorted(item.labels.items())}\x00{item.text}".encode())
    return digest.hexdigest()[:16]


def loo_figures(
    settings: Settings,
    policy: Policy,
    items: Sequence[LabeledText],
    families: Sequence[str] | None = None,
    cap: int | None = None,
    n_eval: int = 600,
    fold_cache: Path = LOO_CACHE_DIR,
) -> dict[str, float]:
    """`loo_<family>_f1/_pr_auc/_fpr/_n` for each family (all when None) and `loo_mean_f1`.

    cap None: each fold trains on exactly the full run's items minus the family, so every embedding
    comes from the cache of `warden train` (minutes per fold instead of an hour)."""
    known = loo_families(items)
    chosen = sorted(known) if families is None else list(families)
    unknown = [f for f in chosen if f not in known]
    if unknown:
        raise ValueError(f"unknown families {unknown}; known: {sorted(known)}")
    figures: dict[str, float] = {"loo_train_cap_per_dataset": float(cap or 0)}
    f1s: list[float] = []
    benign_fprs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="warden-loo-") as tmp:
        for family in chosen:
            console.rule(f"leave out {family} ({', '.join(known[family])})")
            # A fold is a full training run: its result is kept until the recipe, the data or the
            # policy change, so an interrupted run resumes where it stopped.
            saved = fold_cache / f"{family}-{_fold_key(policy, items, known[family], cap, n_eval)}.json"
            if saved.is_file():
                m = json.loads(saved.read_text())
                console.print(f"  (result of an earlier run of this fold: {saved})")
            else:
                m, _ = loo_fold(settings, policy, items, family, Path(tmp) / family, cap, n_eval)
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(m))
            for key in ("f1", "pr_auc", "fpr", "n"):
                figures[f"loo_{family}_{key}"] = m[key]
            # A benign-only family (e.g. the security prompts) has no F1: its FPR is the figure.
            if m.get("positives", 1.0) > 0:
                f1s.append(m["f1"])
            else:
                benign_fprs.append(m["fpr"])
            console.print(f"  {family}: F1 {m['f1']:.3f}  PR-AUC {m['pr_auc']:.3f}  FPR {m['fpr']:.3f}")
    if f1s:
        figures["loo_mean_f1"] = float(np.mean(f1s))
        figures["loo_families"] = float(len(f1s))
    if benign_fprs:
        figures["loo_benign_only_mean_fpr"] = float(np.mean(benign_fprs))
    return figures


def _loo_families_from_env() -> list[str] | None:
    """WARDEN_BENCH_LOO_FAMILIES: unset or empty = all, "none" = [] (skip), else a comma list."""
    wanted = os.environ.get("WARDEN_BENCH_LOO_FAMILIES", "").strip()
    if not wanted:
        return None
    if wanted.lower() == "none":
        return []
    return [f.strip() for f in wanted.split(",") if f.strip()]


def run() -> dict[str, float]:
    base = get_settings()
    # The text tier's own quality: no benign exits, no LLM judge (the cascade area measures those).
    settings = base.override(pipeline={"cascade_exits": False}, judge={"enabled": False})
    policy = load_policy(settings.policy_path)
    items = load_datasets(Path(settings.data_dir))
    moderator = Moderator.from_settings(settings, policy).load()
    suite = [i for i in items if i.dataset == "warden-contrast" and i.split == "test"]
    figures: dict[str, float] = {}
    figures.update(contrast_figures(moderator, suite))
    figures.update(benign_figures(moderator, items))
    figures.update(language_figures(moderator, items))
    figures.update(exit_figures(settings, policy, items))
    families = _loo_families_from_env()
    if families != []:
        try:
            figures.update(
                loo_figures(
                    settings,
                    policy,
                    items,
                    families,
                    cap=int(os.environ.get("WARDEN_BENCH_LOO_CAP", "0")) or None,
                    n_eval=int(os.environ.get("WARDEN_BENCH_LOO_EVAL", "600")),
                )
            )
        except ValueError as exc:  # an unknown family name: say which exist
            raise SystemExit(str(exc)) from None
    return {k: round(float(v), 4) for k, v in figures.items()}
