"""Prometheus metrics of a stream worker (served on `stream.metrics_port` at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.entries = Counter(
            "warden_worker_entries",
            "Stream entries handled, by outcome: decided (stored and acknowledged), dead_letter, "
            "failed (left pending for a retry). Throughput: rate() of the decided ones.",
            ["outcome"],
            registry=self.registry,
        )
        self.batches = Counter(
            "warden_worker_batches", "Batches run through the pipeline.", registry=self.registry
        )
        self.batch_seconds = Histogram(
            "warden_worker_batch_seconds",
            "Time per batch, reading excluded.",
            buckets=BATCH_SECONDS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "warden_worker_batch_size", "Entries per batch.", buckets=BATCH_SIZES, registry=self.registry
        )
        self.claimed = Counter(
            "warden_worker_claimed", "Entries claimed from a dead or failed consumer.", registry=self.registry
        )
        self.lag = Gauge(
            "warden_worker_stream_lag",
            "Entries in the stream the group has not read yet.",
            registry=self.registry,
        )
        self.pending = Gauge(
            "warden_worker_stream_pending",
            "Entries read by the group and not acknowledged.",
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "warden_worker_redis_errors",
            "Redis calls that failed (the worker retries).",
            registry=self.registry,
        )
        self.policy_reloads = Counter(
            "warden_worker_policy_reloads",
            "Policies switched to after an activation elsewhere.",
            registry=self.registry,
        )
        self.bank_changes = Counter(
            "warden_worker_bank_changes",
            "Bank entries applied to the index from the store.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
