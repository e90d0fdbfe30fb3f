"""Prometheus metrics. Each app gets its own registry, so several apps in one process never collide."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from ..decision import Decision

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.items_moderated = Counter(
            "warden_items_moderated",
            "Items answered by the moderation endpoints, by overall action (idempotent replays included).",
            ["action"],
            registry=self.registry,
        )
        self.category_flagged = Counter(
            "warden_category_flagged",
            "Items flagged per policy category.",
            ["category"],
            registry=self.registry,
        )
        self.replayed = Counter(
            "warden_decisions_replayed",
            "Items answered from a stored decision (same id and content seen before).",
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "warden_request_latency_seconds",
            "HTTP request latency by route template.",
            ["endpoint", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "warden_batch_size",
            "Items per moderation call made by the micro-batcher (after merging concurrent requests).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.stage_latency = Histogram(
            "warden_stage_latency_seconds",
            "Per-item latency of each pipeline stage, from freshly computed decisions.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.stage_cost = Counter(
            "warden_stage_cost",
            "Relative cost spent per stage (fast n-gram tier = 1 per item), from fresh decisions.",
            ["stage"],
            registry=self.registry,
        )
        self.stage_exits = Counter(
            "warden_stage_exits",
            "Items that left the cascade after a stage (confidently benign, violating or bank match).",
            ["stage"],
            registry=self.registry,
        )
        self.errors = Counter(
            "warden_http_errors",
            "HTTP responses with a status of 400 or more.",
            ["status"],
            registry=self.registry,
        )

    def observe_decisions(self, decisions: Sequence[Decision], since: datetime) -> None:
        """Count served decisions; `since` tells fresh ones (created during this request) from replays."""
        for decision in decisions:
            self.items_moderated.labels(decision.action).inc()
            for category, score in decision.categories.items():
                if score.flagged:
                    self.category_flagged.labels(category).inc()
            if decision.created_at >= since:
                for stage in decision.stages:
                    self.stage_latency.labels(stage.name).observe(stage.latency_ms / 1000.0)
                    self.stage_cost.labels(stage.name).inc(stage.cost)
                    if stage.exited:
                        self.stage_exits.labels(stage.name).inc()
            else:
                self.replayed.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
