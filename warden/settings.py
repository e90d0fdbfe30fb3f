"""Typed settings with defaults, read from `warden.toml`/env (prefix WARDEN_).

Every field has a default so an empty environment runs the embedded setup:
SQLite in `.warden/`, the shipped models and the shipped default policy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_POLICY_PATH = PACKAGE_DIR / "policy" / "default.yaml"
DEFAULT_MODELS_DIR = PACKAGE_DIR / "models" / "text"
# The data sets live beside the project checkout (`../shared/data` from the project root), not
# relative to wherever a command happens to run.
DEFAULT_DATA_DIR = (PACKAGE_DIR.parent / ".." / "shared" / "data").resolve()


class Limits(BaseSettings):
    """Explicit size limits enforced at the edge (API, CLI, Python API)."""

    max_text_chars: int = 20_000
    max_batch_items: int = 1_000
    max_request_bytes: int = 10 * 1024 * 1024
    max_id_chars: int = 256
    max_metadata_bytes: int = 16 * 1024
    max_hashes_per_item: int = 64
    max_media_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # decompression-bomb guard, checked before decoding
    max_video_seconds: float = 600.0


class BankSettings(BaseSettings):
    """Match banks: thresholds per signal type and how fast other processes' changes are seen."""

    enabled: bool = True
    pdq_max_distance: int = Field(default=31, ge=0, le=31, description="Meta's recommended PDQ match radius.")
    pdq_min_quality: int = Field(
        default=50, ge=0, le=100, description="Hashes below are too featureless to match."
    )
    vpdq_min_query_match: float = Field(
        default=0.8, gt=0, le=1, description="Share of the query video's frames that must match the entry."
    )
    vpdq_min_entry_match: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the entry's frames the query must cover (0: trims match).",
    )
    tmk_min_level1: float = Field(default=0.7, description="TMK+PDQF cosine of average frame features.")
    tmk_min_level2: float = Field(default=0.7, description="TMK+PDQF temporal match kernel score.")
    text_min_jaccard: float = Field(
        default=0.5, gt=0, le=1, description="Near-duplicate text: Jaccard of normalised character 5-grams."
    )
    embedding_min_similarity: float = Field(
        default=0.9, gt=0, le=1, description="Semantic near-duplicate: cosine of MiniLM embeddings."
    )
    refresh_interval_s: float = Field(
        default=0.5, gt=0, description="How often a server polls the store for bank changes made elsewhere."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WARDEN_", env_nested_delimiter="__", toml_file="warden.toml", extra="ignore"
    )

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Root of the labelled data sets used by train/eval."
    )
    database_url: str = Field(
        default="sqlite:///.warden/warden.db",
        description="SQLAlchemy URL: SQLite by default, postgresql+psycopg://... in production.",
    )
    policy_path: Path = DEFAULT_POLICY_PATH
    models_dir: Path = DEFAULT_MODELS_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    auth_enabled: bool = True
    batch_max_size: int = 64
    batch_max_wait_ms: float = 5.0
    limits: Limits = Field(default_factory=Limits)
    banks: BankSettings = Field(default_factory=BankSettings)
    enable_multilingual: bool = True
    enable_encoder: bool = True
    account_risk_review_at: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Graph risk of an author at which borderline items go to review instead of allow.",
    )
    account_risk_borderline: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Borderline = a category's probability is at least this share of its flag threshold.",
    )
    cascade_exits: bool = Field(
        default=True,
        description="Let confidently benign items leave the cascade early (thresholds in cascade.json).",
    )
    fast_exit_probability: float | None = Field(
        default=0.995, description="Skip the encoder tier when the fast tier is this sure of a violation."
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):  # type: ignore[override]
        from pydantic_settings import TomlConfigSettingsSource

        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls), file_secret_settings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
