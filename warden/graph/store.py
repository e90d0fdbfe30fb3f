"""The interaction graph: nodes (accounts, content) and timestamped edges, append-only.

Edges arrive in batches and are kept as a list of column chunks (a buffered COO). Detectors ask
for `edges()` or a sparse matrix; those are built lazily on first use after an append and cached
against `version`, so appending a few events never rebuilds anything until someone reads.
Persistence is one `.npz` file (`save`/`load`): rebuilding from the event file is the other way.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import ValidationError
from .events import KIND_CODES, OPINION_KINDS, Event, RowError, parse_event

ACCOUNT, CONTENT = 0, 1
OPINION_CODES = np.array(sorted(KIND_CODES[k] for k in OPINION_KINDS), dtype=np.int8)


@dataclass
class EdgeArrays:
    """All edges as columns (one row per event), in insertion order."""

    src: np.ndarray  # int64 node index of the actor
    dst: np.ndarray  # int64 node index of the target
    kind: np.ndarray  # int8 KIND_CODES
    weight: np.ndarray  # float64 signed weight as given (ratings keep their scale)
    time: np.ndarray  # float64 Unix seconds

    def __len__(self) -> int:
        return int(self.src.shape[0])

    def select(self, mask: np.ndarray) -> EdgeArrays:
        return EdgeArrays(self.src[mask], self.dst[mask], self.kind[mask], self.weight[mask], self.time[mask])


@dataclass
class IngestResult:
    accepted: int = 0
    errors: list[RowError] = field(default_factory=list)


class InteractionGraph:
    """Accounts and content as nodes, interactions as directed timestamped signed edges."""

    def __init__(self) -> None:
        self._index: dict[tuple[int, str], int] = {}
        self.node_ids: list[str] = []
        self._node_kind: list[int] = []
        self._chunks: list[EdgeArrays] = []
        self._event_ids: set[str] = set()
        self._cache: dict[str, Any] = {}
        self._cache_version = -1
        self.version = 0  # bumped on every append; caches and scorers compare against it
        self._lock = threading.RLock()

    # -- nodes -----------------------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def node_kind(self) -> np.ndarray:
        return np.asarray(self._node_kind, dtype=np.int8)

    def _node(self, node_id: str, kind: int) -> int:
        key = (kind, node_id)
        index = self._index.get(key)
        if index is None:
            index = len(self.node_ids)
            self._index[key] = index
            self.node_ids.append(node_id)
            self._node_kind.append(kind)
        return index

    def account_index(self, account_id: str) -> int | None:
        return self._index.get((ACCOUNT, account_id))

    def account_indices(self) -> np.ndarray:
        return np.flatnonzero(self.node_kind == ACCOUNT)

    # -- appends ---------------------------------------------------------------------------------

    def add_rows(self, rows: Iterable[Mapping[str, Any] | str], start: int = 0) -> IngestResult:
        """Validate and append rows (dicts, or an error string a reader produced for that row).

        Bad rows and rows whose event id was seen before (in this batch or earlier) are reported
        by index and skipped; every other row of the batch is kept.
        """
        result = IngestResult()
        good: list[Event] = []
        batch_ids: set[str] = set()
        with self._lock:
            for offset, row in enumerate(rows):
                index = start + offset
                if isinstance(row, str):
                    result.errors.append(RowError(index, row))
                    continue
                raw_id = row.get("event_id") if isinstance(row, Mapping) else None
                try:
                    event = parse_event(row)
                except ValueError as exc:
                    result.errors.append(RowError(index, str(exc), str(raw_id) if raw_id else None))
                    continue
                if event.event_id is not None:
                    if event.event_id in self._event_ids or event.event_id in batch_ids:
                        result.errors.append(
                            RowError(index, f"duplicate event_id {event.event_id!r}", event.event_id)
                        )
                        continue
                    batch_ids.add(event.event_id)
                good.append(event)
            self.add_events(good)
            result.accepted = len(good)
        return result

    def add_events(self, events: Sequence[Event]) -> None:
        """Append already validated events (ids are assumed new; `add_rows` checks them)."""
        if not events:
            return
        with self._lock:
            src = np.fromiter((self._node(e.actor, ACCOUNT) for e in events), np.int64, len(events))
            dst = np.fromiter(
                (self._node(e.target, CONTENT if e.target_kind == "content" else ACCOUNT) for e in events),
                np.int64,
                len(events),
            )
            kind = np.fromiter((KIND_CODES[e.kind] for e in events), np.int8, len(events))
            weight = np.fromiter((e.weight for e in events), np.float64, len(events))
            time = np.fromiter((e.timestamp for e in events), np.float64, len(events))
            self._event_ids.update(e.event_id for e in events if e.event_id is not None)
            self._append(EdgeArrays(src, dst, kind, weight, time))

    def add_arrays(
        self,
        actors: Sequence[str] | np.ndarray,
        targets: Sequence[str] | np.ndarray,
        weights: np.ndarray,
        times: np.ndarray,
        kind: str = "rate",
    ) -> None:
        """Fast path for trusted bulk loads (account-to-account edges of one kind, no event ids)."""
        if kind not in KIND_CODES:
            raise ValidationError(f"unknown interaction type {kind!r}")
        weights = np.asarray(weights, dtype=np.float64)
        times = np.asarray(times, dtype=np.float64)
        n = len(actors)
        if not (len(targets) == n == weights.shape[0] == times.shape[0]):
            raise ValidationError("actors, targets, weights and times must have the same length")
        if not (np.isfinite(weights).all() and np.isfinite(times).all()):
            raise ValidationError("weights and times must be finite numbers")
        with self._lock:
            # Map distinct ids once (np.unique) instead of once per edge.
            uniq, inverse = np.unique(
                np.concatenate([np.asarray(actors), np.asarray(targets)]).astype(str), return_inverse=True
            )
            mapped = np.fromiter((self._node(str(u), ACCOUNT) for u in uniq), np.int64, len(uniq))[inverse]
            self._append(
                EdgeArrays(mapped[:n], mapped[n:], np.full(n, KIND_CODES[kind], np.int8), weights, times)
            )

    def _append(self, chunk: EdgeArrays) -> None:
        if len(chunk):
            self._chunks.append(chunk)
            self.version += 1

    # -- reads (lazy, cached per version) --------------------------------------------------------

    def cached(self, key: str, build: Any) -> Any:
        with self._lock:
            if self._cache_version != self.version:
                self._cache.clear()
                self._cache_version = self.version
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def edges(self) -> EdgeArrays:
        def build() -> EdgeArrays:
            if not self._chunks:
                empty_i = np.zeros(0, np.int64)
                return EdgeArrays(empty_i, empty_i, np.zeros(0, np.int8), np.zeros(0), np.zeros(0))
            if len(self._chunks) > 1:  # compact so later reads and saves see one chunk
                merged = EdgeArrays(
                    *(
                        np.concatenate(cols)
                        for cols in zip(
                            *((c.src, c.dst, c.kind, c.weight, c.time) for c in self._chunks), strict=True
                        )
                    )
                )
                self._chunks = [merged]
            return self._chunks[0]

        edges: EdgeArrays = self.cached("edges", build)
        return edges

    @property
    def n_edges(self) -> int:
        return sum(len(c) for c in self._chunks)

    def rating_scale(self) -> float:
        """Largest |weight| of 'rate' edges: ratings are divided by it so opinions lie in [-1, 1]."""
        e = self.edges()
        rates = np.abs(e.weight[e.kind == KIND_CODES["rate"]])
        return float(rates.max()) if rates.size and rates.max() > 0 else 1.0

    def opinions(self) -> EdgeArrays:
        """Opinion edges (rate, like, report) with weights scaled to [-1, 1]."""

        def build() -> EdgeArrays:
            e = self.edges()
            sel = e.select(np.isin(e.kind, OPINION_CODES))
            scale = np.where(sel.kind == KIND_CODES["rate"], self.rating_scale(), 1.0)
            sel.weight = np.clip(sel.weight / scale, -1.0, 1.0)
            return sel

        opinions: EdgeArrays = self.cached("opinions", build)
        return opinions

    def adjacency(self, signed: bool = True) -> sp.csr_matrix:
        """n x n CSR, entry (u, v) = sum of u's opinion weights on v (signed) or its edge count."""

        def build() -> sp.csr_matrix:
            e = self.opinions() if signed else self.edges()
            data = e.weight if signed else np.ones(len(e))
            return sp.csr_matrix((data, (e.src, e.dst)), shape=(self.n_nodes, self.n_nodes))

        matrix: sp.csr_matrix = self.cached(f"adjacency:{signed}", build)
        return matrix

    # -- persistence -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        e = self.edges()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"node_ids": self.node_ids, "node_kind": self._node_kind, "event_ids": sorted(self._event_ids)}
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez_compressed(
                fh,
                src=e.src,
                dst=e.dst,
                kind=e.kind,
                weight=e.weight,
                time=e.time,
                meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            )
        tmp.replace(path)  # atomic: a crash never leaves half a graph behind

    @classmethod
    def load(cls, path: Path) -> InteractionGraph:
        graph = cls()
        with np.load(Path(path)) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            graph.node_ids = list(meta["node_ids"])
            graph._node_kind = list(meta["node_kind"])
            graph._index = {
                (k, n): i for i, (k, n) in enumerate(zip(graph._node_kind, graph.node_ids, strict=True))
            }
            graph._event_ids = set(meta["event_ids"])
            graph._append(EdgeArrays(data["src"], data["dst"], data["kind"], data["weight"], data["time"]))
        return graph

    def summary(self) -> dict[str, int]:
        kinds = self.node_kind
        return {
            "accounts": int((kinds == ACCOUNT).sum()),
            "content": int((kinds == CONTENT).sum()),
            "edges": self.n_edges,
        }
