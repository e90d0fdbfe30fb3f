"""Active-learning simulation: a labelled data set plays the reviewer (an oracle with hidden labels).

For one binary task (a data set and one policy category):

* the data set's fixed **test split** is only ever used to measure F1; selection never sees it;
* the **pool** is its train + calibration splits with labels hidden; a strategy starts from a small
  stratified seed set and, round after round, asks for a batch of labels, which the oracle reveals;
* the **model** is a logistic regression on cached MiniLM embeddings (fast and deterministic); its
  decision threshold is a fixed 0.5 on the predicted probability, for every strategy and for the
  full-data model alike, so no threshold is ever tuned on the test split;
* **full-data F1** is the same model trained on the whole pool, and a strategy's *labels fraction for
  95 %* is the smallest fraction of the pool whose mean F1 over the seeds reaches 0.95 × full-data F1.

Hyper-parameters were fixed before any strategy was compared: C = 10 is the best of
{0.3 .. 100} by 5-fold cross-validation F1 on the SMS *pool*, never the test split (0.841, 0.915,
0.935, 0.949, 0.948, 0.948 for C = 0.3, 1, 3, 10, 30, 100); liblinear because
a fit on a few hundred rows takes milliseconds. The seed set is stratified (at least 2 items of each
class), as a real seed set gathered by keyword search or from first reports would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from ..errors import ValidationError
from .active import STRATEGIES, propose

if TYPE_CHECKING:
    from rich.console import Console

SEED = 20261122
TABLE_FRACTIONS = (0.005, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30)
TARGET_SHARE = 0.95


@dataclass(frozen=True)
class Task:
    """One binary task: pool and test embeddings with their (hidden, for the pool) labels."""

    name: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x_pool) != len(self.y_pool) or len(self.x_test) != len(self.y_test):
            raise ValidationError(f"{self.name}: embeddings and labels differ in length")
        for part, y in (("pool", self.y_pool), ("test", self.y_test)):
            if len(np.unique(y)) != 2:
                raise ValidationError(f"{self.name}: the {part} needs both classes")


def load_task(
    dataset: str,
    category: str,
    data_dir: Path,
    cache_dir: Path = Path(".cache/embeddings"),
    max_pool: int | None = None,
    max_test: int | None = None,
) -> Task:
    """Pool (train + calib) and test split of `dataset`, items whose `category` label is known.

    `max_pool`/`max_test` take a seeded subsample (for tests); embeddings come from the MiniLM
    cache shared with `warden train`, so a second run embeds nothing.
    """
    from ..runtime.embedders import MiniLMOnnxEmbedder
    from .datasets import load_datasets
    from .embedding_cache import CachedEmbedder

    items = [i for i in load_datasets(data_dir, [dataset]) if category in i.labels]
    if not items:
        raise ValidationError(f"{dataset} has no items labelled for category {category!r}")
    rng = np.random.default_rng(SEED)
    pool = [i for i in items if i.split != "test"]
    test = [i for i in items if i.split == "test"]
    if max_pool is not None and len(pool) > max_pool:
        pool = [pool[k] for k in sorted(rng.choice(len(pool), max_pool, replace=False))]
    if max_test is not None and len(test) > max_test:
        test = [test[k] for k in sorted(rng.choice(len(test), max_test, replace=False))]
    embedder = CachedEmbedder(MiniLMOnnxEmbedder(), cache_dir)
    x = embedder.embed([i.text for i in pool + test], label=f"embedding {dataset}")
    y = np.array([i.labels[category] for i in pool + test], dtype=np.int8)
    n = len(pool)
    return Task(f"{dataset}/{category}", x[:n], y[:n], x[n:], y[n:])


@dataclass
class SimulationConfig:
    strategies: tuple[str, ...] = STRATEGIES
    seeds: int = 5
    seed_size: int = 20
    batch_fraction: float = 0.005  # labels asked per round, as a share of the pool
    min_batch: int = 10
    max_fraction: float = 0.30  # stop once this share of the pool is labelled
    c: float = 10.0
    threshold: float = 0.5

    def __post_init__(self) -> None:
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValidationError(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
        if self.seeds < 1 or self.seed_size < 4:
            raise ValidationError("need at least 1 seed and a seed set of at least 4 items")
        if not 0 < self.max_fraction <= 1:
            raise ValidationError("max_fraction must be in (0, 1]")


def _fit(x: np.ndarray, y: np.ndarray, config: SimulationConfig) -> LogisticRegression:
    model = LogisticRegression(C=config.c, solver="liblinear", max_iter=1000, random_state=SEED)
    return model.fit(x, y)


def _f1(model: LogisticRegression, task: Task, threshold: float) -> float:
    predicted = model.predict_proba(task.x_test)[:, 1] >= threshold
    return float(f1_score(task.y_test, predicted, zero_division=0.0))


def seed_set(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A stratified seed set: the pool's class shares, but at least 2 of each class."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_pos = int(np.clip(round(size * len(pos) / len(y)), 2, min(len(pos), size - 2)))
    n_neg = min(size - n_pos, len(neg))
    return np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])


def label_schedule(pool_size: int, config: SimulationConfig) -> list[int]:
    """Labels used after each round: the seed set, then one batch per round up to max_fraction."""
    batch = max(config.min_batch, round(config.batch_fraction * pool_size))
    stop = max(config.seed_size, int(config.max_fraction * pool_size))
    return list(range(config.seed_size, stop + 1, batch))


@dataclass
class SimulationResult:
    task: str
    pool_size: int
    test_size: int
    pool_prevalence: float
    labels: list[int]
    f1: dict[str, list[list[float]]]  # strategy -> seeds x rounds
    full_f1: float
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def fractions(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.float64) / self.pool_size

    def mean(self, strategy: str) -> np.ndarray:
        return np.asarray(self.f1[strategy]).mean(axis=0)

    def std(self, strategy: str) -> np.ndarray:
        return np.asarray(self.f1[strategy]).std(axis=0)

    def fraction_for(self, strategy: str, share: float = TARGET_SHARE) -> float:
        """Smallest simulated labels fraction whose mean F1 reaches share × full-data F1.

        1.0 when the simulated range never reaches it: the whole pool is then the first amount of
        labels known to get there (by definition of full-data F1).
        """
        hit = np.flatnonzero(self.mean(strategy) >= share * self.full_f1)
        return float(self.fractions[hit[0]]) if len(hit) else 1.0

    def step_at(self, fraction: float) -> int | None:
        """Index of the last round whose labels fraction does not exceed `fraction`."""
        ok = np.flatnonzero(self.fractions <= fraction + 1e-12)
        return int(ok[-1]) if len(ok) else None

    def best_strategy(self) -> str:
        active = [s for s in self.f1 if s != "random"] or list(self.f1)
        # Fewest labels to the target; ties go to the higher F1 at 10 % of the labels.
        return min(active, key=lambda s: (self.fraction_for(s), -self.f1_at(s, 0.10)))

    def f1_at(self, strategy: str, fraction: float) -> float:
        step = self.step_at(fraction)
        return float(self.mean(strategy)[step]) if step is not None else float("nan")

    def figures(self, prefix: str = "") -> dict[str, float]:
        best = self.best_strategy()
        out: dict[str, float] = {
            f"{prefix}full_data_f1": self.full_f1,
            f"{prefix}best_labels_fraction_for_95pct_f1": self.fraction_for(best),
            f"{prefix}random_labels_fraction_for_95pct_f1": self.fraction_for("random")
            if "random" in self.f1
            else float("nan"),
            f"{prefix}pool_items": float(self.pool_size),
            f"{prefix}test_items": float(self.test_size),
        }
        for s in self.f1:
            out[f"{prefix}{s}_labels_fraction_for_95pct_f1"] = self.fraction_for(s)
            out[f"{prefix}{s}_f1_at_10pct_labels"] = self.f1_at(s, 0.10)
        return {k: round(float(v), 4) for k, v in out.items()}

    def table_rows(self, fractions: Sequence[float] = TABLE_FRACTIONS) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        steps: set[int] = set()
        for fraction in fractions:
            step = self.step_at(fraction)
            if step is None or step in steps:
                continue
            steps.add(step)
            row: dict[str, Any] = {"labels_fraction": round(float(self.fractions[step]), 4)}
            row["labels"] = self.labels[step]
            for s in self.f1:
                row[s] = round(float(self.mean(s)[step]), 4)
            rows.append(row)
        return rows

    def markdown(self) -> str:
        strategies = list(self.f1)
        head = "| labels (% of pool) | " + " | ".join(strategies) + " |"
        lines = [
            f"Task `{self.task}`: pool {self.pool_size:,} items ({self.pool_prevalence:.1%} positive), "
            f"test {self.test_size:,}; mean test F1 over {self.config.get('seeds')} seeds; "
            f"full-data F1 {self.full_f1:.4f} (95 % = {TARGET_SHARE * self.full_f1:.4f}).",
            "",
            head,
            "|" + "---|" * (len(strategies) + 1),
        ]
        for row in self.table_rows():
            cells = " | ".join(f"{row[s]:.3f}" for s in strategies)
            lines.append(f"| {row['labels']:,} ({row['labels_fraction']:.1%}) | {cells} |")
        reach = " | ".join(
            f"{self.fraction_for(s):.1%}" if self.fraction_for(s) < 1.0 else "not reached" for s in strategies
        )
        lines.append(f"| **fraction for 95 % of full F1** | {reach} |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["table"] = self.table_rows()
        d["figures"] = self.figures()
        return d

    def plot(self, path: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
        x = 100 * self.fractions
        for s in self.f1:
            mean, std = self.mean(s), self.std(s)
            # Dotted margin: on one category it coincides with uncertainty, which would hide it.
            style = {"random": "--", "margin": ":"}.get(s, "-")
            ax.plot(x, mean, label=s, linewidth=2.5 if s == "margin" else 2, linestyle=style)
            ax.fill_between(x, mean - std, mean + std, alpha=0.12)
        ax.axhline(self.full_f1, color="black", linewidth=1, label=f"full data ({self.full_f1:.3f})")
        target = TARGET_SHARE * self.full_f1
        ax.axhline(target, color="grey", linewidth=1, linestyle=":", label="95 % of full")
        ax.axvline(10, color="grey", linewidth=0.8, linestyle="-.")
        ax.set_xlabel("labels used (% of the pool)")
        ax.set_ylabel("test F1")
        ax.set_title(f"Active learning on {self.task} (mean ± sd over {self.config.get('seeds')} seeds)")
        low = min(float(self.mean(s).min()) for s in self.f1)
        ax.set_ylim(max(0.0, low - 0.05), min(1.0, self.full_f1 + 0.05))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        return path


def simulate(
    task: Task, config: SimulationConfig | None = None, progress: Callable[[int], None] | None = None
) -> SimulationResult:
    """Run every strategy for `config.seeds` seeds; `progress(1)` is called after each round."""
    config = config or SimulationConfig()
    started = time.perf_counter()
    full_f1 = _f1(_fit(task.x_pool, task.y_pool, config), task, config.threshold)
    schedule = label_schedule(len(task.y_pool), config)
    curves: dict[str, list[list[float]]] = {s: [] for s in config.strategies}
    for seed in range(config.seeds):
        start = seed_set(task.y_pool, config.seed_size, np.random.default_rng(SEED + seed))
        for strategy in config.strategies:
            curves[strategy].append(_run_one(task, config, strategy, start, schedule, SEED + seed, progress))
    return SimulationResult(
        task=task.name,
        pool_size=len(task.y_pool),
        test_size=len(task.y_test),
        pool_prevalence=round(float(task.y_pool.mean()), 4),
        labels=schedule,
        f1=curves,
        full_f1=round(full_f1, 4),
        config=asdict(config),
        seconds=round(time.perf_counter() - started, 1),
    )


def _run_one(
    task: Task,
    config: SimulationConfig,
    strategy: str,
    start: np.ndarray,
    schedule: list[int],
    seed: int,
    progress: Callable[[int], None] | None,
) -> list[float]:
    labelled = np.zeros(len(task.y_pool), dtype=bool)
    labelled[start] = True
    f1s: list[float] = []
    for step in range(len(schedule)):
        # The oracle reveals only the labels of selected items; the model sees nothing else.
        model = _fit(task.x_pool[labelled], task.y_pool[labelled], config)
        f1s.append(_f1(model, task, config.threshold))
        if progress:
            progress(1)
        if step + 1 < len(schedule):
            budget = schedule[step + 1] - int(labelled.sum())
            p = model.predict_proba(task.x_pool)[:, 1] if strategy != "random" else None
            picks = propose(
                strategy, p, task.x_pool, labelled, budget, seed * 1000 + step, thresholds=config.threshold
            )
            labelled[picks] = True
    return f1s


def run_and_report(
    task: Task,
    config: SimulationConfig,
    out_dir: Path,
    stem: str = "active_learning",
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate, then write STEM.json (curves, table, figures), STEM.md (table) and STEM.png."""
    result = simulate(task, config, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    (out_dir / f"{stem}.md").write_text(result.markdown())
    result.plot(out_dir / f"{stem}.png")
    return result


def rounds(task: Task, config: SimulationConfig) -> int:
    """Model fits a simulation makes (for a progress bar)."""
    return len(label_schedule(len(task.y_pool), config)) * len(config.strategies) * config.seeds


def run_with_progress(
    task: Task, config: SimulationConfig, out_dir: Path, stem: str, console: Console | None = None
) -> SimulationResult:
    """`run_and_report` under a progress bar of the simulation's rounds."""
    from rich.progress import Progress

    with Progress(console=console) as bar:
        job = bar.add_task(f"simulating {task.name}", total=rounds(task, config))
        return run_and_report(task, config, out_dir, stem, lambda n: bar.advance(job, n))


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m warden.learn.simulate --dataset D --category C`: simulate another task."""
    import argparse

    from ..settings import get_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dataset", default="sms-spam-collection")
    parser.add_argument("--category", default="spam_scam")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-fraction", type=float, default=0.30)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    task = load_task(args.dataset, args.category, get_settings().data_dir)
    config = SimulationConfig(seeds=args.seeds, max_fraction=args.max_fraction)
    stem = f"active_learning_{args.dataset}_{args.category}"
    result = run_with_progress(task, config, args.out, stem)
    print(result.markdown())
    print(json.dumps(result.figures(), indent=1))


if __name__ == "__main__":  # pragma: no cover
    main()
