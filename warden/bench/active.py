"""Active area: labels needed by each active-learning strategy, from an oracle simulation.

Main task: SMS spam (`sms-spam-collection`, category spam_scam), 5 seeds; the labels of the pool
are hidden and revealed only for the items a strategy asks for (see `warden/learn/simulate.py`).
A second, smaller and balanced task (YouTube comment spam, 3 seeds) checks that the ranking of
strategies is not an accident of one data set; its figures carry the prefix `youtube_`.

Figures: best_labels_fraction_for_95pct_f1 (the best non-random strategy),
random_labels_fraction_for_95pct_f1, STRATEGY_labels_fraction_for_95pct_f1,
STRATEGY_f1_at_10pct_labels, full_data_f1, pool_items, test_items (1.0 for a fraction means not
reached within the simulated 30 % of the pool). The table and curves go to
bench/results/active_learning.{json,md,png} (and active_learning_youtube.*).
"""

from __future__ import annotations

from rich.console import Console

from ..learn.simulate import SimulationConfig, load_task, run_with_progress
from ..settings import get_settings

console = Console()
TASKS = (
    ("", "sms-spam-collection", "spam_scam", 5, "active_learning"),
    ("youtube_", "youtube-spam-collection", "spam_scam", 3, "active_learning_youtube"),
)


def run() -> dict[str, float]:
    from .results import RESULTS_DIR

    settings = get_settings()
    figures: dict[str, float] = {}
    for prefix, dataset, category, seeds, stem in TASKS:
        task = load_task(dataset, category, settings.data_dir)
        config = SimulationConfig(seeds=seeds)
        result = run_with_progress(task, config, RESULTS_DIR, stem, console)
        console.print(result.markdown())
        figures.update(result.figures(prefix))
        figures[f"{prefix}seconds"] = result.seconds
    return figures
