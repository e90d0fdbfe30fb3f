"""Offline evaluation of decisions against labelled data: metrics.json and report.html."""

from .io import LabelledDataError, LabelledItem, read_labelled
from .runner import EvalArrays, evaluate_arrays, run_evaluation

__all__ = [
    "EvalArrays",
    "LabelledDataError",
    "LabelledItem",
    "evaluate_arrays",
    "read_labelled",
    "run_evaluation",
]
