"""Graph settings (env prefix WARDEN_GRAPH_); every field has a default: an in-memory graph."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GraphSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_GRAPH_", extra="ignore")

    path: Path | None = Field(
        default=None,
        description="Graph file (.npz) loaded at start and rewritten after each ingest; None = in memory.",
    )
    labels_path: Path | None = Field(
        default=None, description="CSV account_id,label (1 or -1 = bad, 0 or +1 = good) of known accounts."
    )
    seed: int = 0
    max_events_per_request: int = 10_000
    window_s: float = Field(default=3600.0, description="Coordination: longest burst counted as lockstep.")
    min_shared: int = Field(
        default=10, description="Coordination: shared (target, window) pairs to link two accounts."
    )
    min_group: int = Field(default=3, description="Coordination: accounts in a group before it is flagged.")
