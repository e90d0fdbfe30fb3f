"""Lockstep behaviour (in the spirit of CopyCatch, Beutel et al., WWW 2013).

Accounts that act on the same targets within the same short window, over and over, are flagged:

1. Each action (like, rate, share, reply, report, follow) is put in a bucket (target, window of
   2 * window_s). Two grids offset by window_s are used, so any burst no longer than window_s
   lies wholly inside one bucket of one grid.
2. A sparse account x bucket matrix M gives co-action counts C = M M^T (one product per grid;
   the larger count per pair is kept). Pairs with C >= min_shared are linked.
3. Connected components of those links with >= min_group accounts are coordinated groups.

Buckets with more than `max_bucket_actors` accounts are skipped: a viral target draws crowds that
are not lockstep, and they would make C dense. A campaign larger than that on one target in one
window is therefore missed by this detector (documented in docs/graph.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .base import GraphDetector, GraphScores
from .events import ACTION_KINDS, KIND_CODES
from .store import InteractionGraph

ACTION_CODES = np.array(sorted(KIND_CODES[k] for k in ACTION_KINDS), dtype=np.int8)
MAX_TARGETS_IN_EVIDENCE = 50


@dataclass
class CoordinatedGroup:
    members: list[int]  # node indices
    shared_targets: list[dict[str, Any]]  # {"target", "first", "last", "actors"}
    max_co_actions: int  # largest number of shared buckets between two members
    start: float
    end: float

    def to_dict(self, graph: InteractionGraph) -> dict[str, Any]:
        return {
            "size": len(self.members),
            "members": [graph.node_ids[m] for m in self.members],
            "shared_targets": self.shared_targets,
            "max_co_actions": self.max_co_actions,
            "start": self.start,
            "end": self.end,
        }


class CoordinationDetector(GraphDetector):
    name = "coordination"
    version = "1"

    def __init__(
        self,
        window_s: float = 3600.0,
        min_shared: int = 10,
        min_group: int = 3,
        max_bucket_actors: int = 2000,
    ) -> None:
        self.window_s = window_s
        self.min_shared = min_shared
        self.min_group = min_group
        self.max_bucket_actors = max_bucket_actors

    def _co_actions(self, src: np.ndarray, dst: np.ndarray, time: np.ndarray, n: int) -> sp.csr_matrix:
        """Max over the two grids of the number of (target, window) buckets two accounts share."""
        best: sp.csr_matrix | None = None
        for offset in (0.0, self.window_s):
            bucket = np.floor((time - time.min() - offset) / (2 * self.window_s)).astype(np.int64) + 1
            key = dst.astype(np.int64) * (int(bucket.max()) + 1) + bucket
            _, key_id = np.unique(key, return_inverse=True)
            m = sp.csr_matrix((np.ones(src.shape[0]), (src, key_id)), shape=(n, int(key_id.max()) + 1))
            m.data[:] = 1.0  # duplicates were summed: acting twice in one bucket counts once
            size = np.asarray(m.sum(axis=0)).ravel()
            usable = (size >= 2) & (size <= self.max_bucket_actors)
            m = m[:, np.flatnonzero(usable)]
            active = np.asarray(m.sum(axis=1)).ravel() >= self.min_shared
            m = sp.diags(active.astype(np.float64)) @ m  # accounts that cannot qualify drop out
            co = (m @ m.T).tocsr()
            best = co if best is None else best.maximum(co)
        assert best is not None
        best.setdiag(0)
        best.eliminate_zeros()
        return best

    def groups(self, graph: InteractionGraph) -> tuple[list[CoordinatedGroup], np.ndarray]:
        """Coordinated groups, and per node the largest co-action count with any other account."""
        n = graph.n_nodes
        e = graph.edges()
        e = e.select(np.isin(e.kind, ACTION_CODES))
        if len(e) == 0 or n == 0:
            return [], np.zeros(n)
        key = f"coaction:{self.window_s}:{self.min_shared}:{self.max_bucket_actors}"
        co = graph.cached(key, lambda: self._co_actions(e.src, e.dst, e.time, n))
        max_pair = np.zeros(n)
        if co.nnz:
            max_pair = np.asarray(co.max(axis=1).todense()).ravel()
        links = co >= self.min_shared
        _, component = connected_components(links, directed=False)
        linked = np.flatnonzero(np.asarray(links.sum(axis=1)).ravel() > 0)
        members_of: dict[int, list[int]] = {}
        for node in linked.tolist():
            members_of.setdefault(int(component[node]), []).append(node)
        found = [
            self._describe(graph, e, sorted(members), co)
            for members in members_of.values()
            if len(members) >= self.min_group
        ]
        found.sort(key=lambda g: (-len(g.members), -g.max_co_actions))
        return found, max_pair

    def _describe(
        self, graph: InteractionGraph, e: Any, members: list[int], co: sp.csr_matrix
    ) -> CoordinatedGroup:
        rows = np.flatnonzero(np.isin(e.src, members))
        dst, time, src = e.dst[rows], e.time[rows], e.src[rows]
        shared: list[dict[str, Any]] = []
        for target in np.unique(dst):
            hit = dst == target
            actors = np.unique(src[hit])
            if actors.size < max(2, len(members) // 2):
                continue  # the group's shared targets are those most members acted on
            shared.append(
                {
                    "target": graph.node_ids[int(target)],
                    "actors": int(actors.size),
                    "first": float(time[hit].min()),
                    "last": float(time[hit].max()),
                }
            )
        shared.sort(key=lambda s: (-s["actors"], s["first"]))
        sub = co[members][:, members]
        times = [s["first"] for s in shared] + [s["last"] for s in shared]
        return CoordinatedGroup(
            members=members,
            shared_targets=shared[:MAX_TARGETS_IN_EVIDENCE],
            max_co_actions=int(sub.max()) if sub.nnz else 0,
            start=min(times) if times else 0.0,
            end=max(times) if times else 0.0,
        )

    def score(self, graph: InteractionGraph) -> GraphScores:
        found, max_pair = self.groups(graph)
        # Outside a group: up to 0.45 for partial lockstep with one other account. In a group:
        # 0.5 to 1, growing with the group's size and how many buckets its members share.
        scores = 0.45 * np.minimum(1.0, max_pair / self.min_shared)
        group_of: dict[int, CoordinatedGroup] = {}
        for group in found:
            size = min(1.0, (len(group.members) - 1) / (2.0 * self.min_group))
            depth = min(1.0, group.max_co_actions / (2.0 * self.min_shared))
            scores[group.members] = 0.5 + 0.5 * size * depth
            for m in group.members:
                group_of[m] = group

        def explain(node: int) -> dict[str, Any]:
            group = group_of.get(node)
            out: dict[str, Any] = {"max_co_actions_with_one_account": int(max_pair[node])}
            if group is not None:
                out["group"] = group.to_dict(graph)
            return out

        return GraphScores(self.name, self.version, np.clip(scores, 0.0, 1.0), explain)
