"""Benchmarks: `make bench` runs every area, `make bench AREA=name` one.

Each area writes flat `{"name": number}` figures (unit in the name) to
`bench/results/AREA.json` and prints a table. Benchmarks are measurements, not tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .results import RESULTS_DIR


def _areas() -> dict[str, Callable[[], dict[str, float]]]:
    from .active import run as active
    from .banks import run as banks
    from .cascade import run as cascade
    from .graph import run as graph
    from .media import run as media
    from .quality import run as quality
    from .reliability import run as reliability
    from .serve import run as serve
    from .strategy import run as strategy
    from .text import run as text
    from .training import run as training

    return {
        "active": active,
        "banks": banks,
        "cascade": cascade,
        "graph": graph,
        "media": media,
        "quality": quality,
        "reliability": reliability,
        "serve": serve,
        "strategy": strategy,
        "text": text,
        "training": training,
    }


def run_benchmarks(area: str | None = None, results_dir: Path = RESULTS_DIR) -> dict[str, dict[str, float]]:
    areas = _areas()
    if area is not None and area not in areas:
        raise SystemExit(f"unknown benchmark area {area!r}; known: {', '.join(sorted(areas))}")
    chosen = [area] if area else sorted(areas)
    results_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, float]] = {}
    console = Console()
    for name in chosen:
        console.rule(f"benchmark area: {name}")
        figures = areas[name]()
        (results_dir / f"{name}.json").write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
        table = Table("figure", "value", title=f"{name} -> {results_dir / (name + '.json')}")
        for key, value in figures.items():
            table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
        console.print(table)
        out[name] = figures
    return out
