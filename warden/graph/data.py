"""The real signed trust graphs used for evaluation (Bitcoin OTC and Alpha, SNAP format).

They live under the data root (`data_dir` in settings, env `WARDEN_DATA_DIR`, `--data-dir`):

    bitcoin-otc-trust-graph/soc-sign-bitcoinotc.csv.gz   SOURCE,TARGET,RATING,TIME (no header)
    bitcoin-otc-trust-graph/otc_gt.csv                    node,label (+1 benign, -1 fraudulent)
    bitcoin-alpha-trust-graph/soc-sign-bitcoinalpha.csv   source,target,weight,timestamp (header)
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..errors import MissingDataError, ValidationError
from ..settings import get_settings
from .base import Labels
from .store import InteractionGraph

OTC_EDGES = Path("bitcoin-otc-trust-graph") / "soc-sign-bitcoinotc.csv.gz"
OTC_LABELS = Path("bitcoin-otc-trust-graph") / "otc_gt.csv"
ALPHA_EDGES = Path("bitcoin-alpha-trust-graph") / "soc-sign-bitcoinalpha.csv"
_HINT = "set WARDEN_DATA_DIR (or data_dir in warden.toml, or --data-dir) to the data root"


def data_file(relative: Path, data_dir: Path | None = None) -> Path:
    root = Path(data_dir) if data_dir is not None else Path(get_settings().data_dir)
    if not root.is_dir():
        raise MissingDataError(f"data root {root} does not exist ({_HINT})")
    path = root / relative
    if not path.exists():
        raise MissingDataError(f"{path} is missing ({_HINT})")
    return path


def read_snap_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sources, targets, ratings, times) of a SNAP signed-network CSV, header optional."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        lines = fh.read().split()
    if lines and not lines[0][:1].lstrip("-").isdigit():
        lines = lines[1:]  # header row
    try:
        table = np.array([line.split(",") for line in lines], dtype=object)
        src, dst = table[:, 0].astype(str), table[:, 1].astype(str)
        rating, time = table[:, 2].astype(np.float64), table[:, 3].astype(np.float64)
    except (ValueError, IndexError) as exc:
        raise ValidationError(f"{path}: not a SOURCE,TARGET,RATING,TIME file ({exc})") from None
    return src, dst, rating, time


def load_snap_graph(path: Path) -> InteractionGraph:
    """A graph of 'rate' edges from a SNAP file (bulk path; use `warden graph ingest` to validate rows)."""
    graph = InteractionGraph()
    graph.add_arrays(*read_snap_arrays(path), kind="rate")
    return graph


def load_otc(data_dir: Path | None = None) -> tuple[InteractionGraph, Labels]:
    """Bitcoin OTC with its ground truth: label 1 = fraudulent (-1 in the file), 0 = benign."""
    graph = load_snap_graph(data_file(OTC_EDGES, data_dir))
    nodes, y = [], []
    for line in data_file(OTC_LABELS, data_dir).read_text(encoding="utf-8").split():
        node, label = line.split(",")
        index = graph.account_index(node.strip())
        if index is None:
            continue  # a labelled account with no rating at all cannot be scored from the graph
        nodes.append(index)
        y.append(1 if label.strip() == "-1" else 0)
    return graph, Labels(np.array(nodes, np.int64), np.array(y, np.int64))


def load_alpha(data_dir: Path | None = None) -> InteractionGraph:
    return load_snap_graph(data_file(ALPHA_EDGES, data_dir))
