"""Learning: labelled data sets, deterministic splits and (elsewhere) training."""

from .datasets import (
    CATEGORIES,
    DATASETS,
    MAPPING_NOTES,
    DatasetSpec,
    LabeledText,
    eval_record,
    families,
    load_datasets,
    load_datasets_with_stats,
    load_raw,
    read_eval_jsonl,
    to_eval_jsonl,
)
from .project_data import ProjectDataError, load_contrast_suite
from .splits import SEED, apply_splits, hash_split, near_duplicate_key

__all__ = [
    "CATEGORIES",
    "DATASETS",
    "MAPPING_NOTES",
    "SEED",
    "DatasetSpec",
    "LabeledText",
    "ProjectDataError",
    "apply_splits",
    "eval_record",
    "families",
    "hash_split",
    "load_contrast_suite",
    "load_datasets",
    "load_datasets_with_stats",
    "load_raw",
    "near_duplicate_key",
    "read_eval_jsonl",
    "to_eval_jsonl",
]
