"""Model registry: versions of the text models, a fixed golden set and a regression gate.

A retrained model never overwrites the live one. It is trained into a new version directory,
evaluated beside the live version on the same fixed golden set through the real pipeline
(`Moderator`, policy thresholds included), and promoted only if it is not worse; otherwise it stays
in shadow, with its report, for inspection or a shadow run.

Layout under the registry root (default `.warden/registry`)::

    registry.json     versions (live | shadow | retired | candidate | failed), history, golden set, gate
    golden.jsonl      the golden set (eval JSONL), fixed when the registry is created
    versions/v0001/   one trained models directory per version, with gate.json once evaluated
    current -> ...    symlink to the live version's directory; promote replaces it atomically
    shadow  -> ...    symlink to the latest version kept in shadow

Serving reads `current` when `WARDEN_MODELS_DIR` points at it (e.g. `.warden/registry/current`).
Without a registry nothing changes: the live models are `Settings.models_dir` (the shipped ones), and
creating a registry registers that directory, unchanged and uncopied, as version `baseline`.

The gate (`gate()`), on the golden set's categories with at least `min_positives` (50) positives:
* macro F1 (mean of those categories' F1) may drop by at most `macro_tolerance` (default 0.005), and
* no single category's F1 may drop by more than `category_tolerance` (default 0.02).
Defaults, why: the default golden set (1,919 items) has 117-362 positives in each gated category, so
one or two borderline items flipping per hundred positives, which a retrain that is no worse does,
moves a category's F1 by up to about 0.02; a real regression in one category moves it by more. The
macro tolerance is tighter because such reshuffles mostly cancel across categories. Below 50
positives (violence: 27) one flipped item moves F1 by several hundredths, so such a category is
reported, not gated. A candidate that lacks an artifact the live settings need (e.g. the
multilingual heads) never passes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFoundError, ValidationError
from ..settings import PipelineSettings, Settings

if TYPE_CHECKING:
    from rich.console import Console

    from ..evaluate.io import LabelledItem
    from ..policy.model import Policy
    from .datasets import LabeledText
    from .review_labels import ReviewLabel
    from .train import TrainConfig

DEFAULT_ROOT = Path(".warden/registry")
BASELINE = "baseline"
GOLDEN_FILE = "golden.jsonl"
GOLDEN_PER_DATASET = 150
GOLDEN_SEED = 20261122
# The artifacts every model version must have (the multilingual heads are optional).
_ENGLISH_ONLY = Settings(pipeline=PipelineSettings(enable_multilingual=False))


@dataclass(frozen=True)
class GateConfig:
    macro_tolerance: float = 0.005
    category_tolerance: float = 0.02
    min_positives: int = 50  # fewer golden positives: reported, not gated (F1 would be noise)

    def __post_init__(self) -> None:
        if self.macro_tolerance < 0 or self.category_tolerance < 0 or self.min_positives < 1:
            raise ValidationError("gate tolerances must be >= 0 and min_positives >= 1")


@dataclass
class Scorecard:
    """One version's quality on the golden set (decisions as the pipeline would make them)."""

    version: str
    n_items: int
    golden_sha256: str
    categories: dict[str, dict[str, Any]]  # f1, precision, recall, support_pos per category
    overall_f1: float | None = None

    def gated(self, config: GateConfig) -> list[str]:
        return sorted(
            c for c, m in self.categories.items() if (m.get("support_pos") or 0) >= config.min_positives
        )

    def macro_f1(self, categories: Sequence[str]) -> float:
        f1s = [self.categories.get(c, {}).get("f1") or 0.0 for c in categories]
        return float(np.mean(f1s)) if f1s else 0.0


@dataclass
class GateReport:
    candidate: str
    current: str
    passed: bool
    promoted: bool
    reasons: list[str]
    gated_categories: list[str]
    current_macro_f1: float
    candidate_macro_f1: float
    current_scores: Scorecard
    candidate_scores: Scorecard
    config: GateConfig = field(default_factory=GateConfig)
    golden: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gate(
    current: Scorecard, candidate: Scorecard, config: GateConfig | None = None
) -> tuple[bool, list[str]]:
    """(passed, reasons): is `candidate` not worse than `current` on the same golden set?"""
    config = config or GateConfig()
    if current.golden_sha256 != candidate.golden_sha256:
        raise ValidationError("the two scorecards come from different golden sets")
    cats = current.gated(config)
    reasons: list[str] = []
    if not cats:
        reasons.append(
            f"no category has {config.min_positives}+ positives in the golden set: nothing to gate on"
        )
    old, new = current.macro_f1(cats), candidate.macro_f1(cats)
    if new < old - config.macro_tolerance:
        reasons.append(f"macro F1 {new:.4f} < {old:.4f} - {config.macro_tolerance:g}")
    for c in cats:
        # A category the candidate does not score at all counts as F1 0.
        a, b = current.categories[c].get("f1") or 0.0, candidate.categories.get(c, {}).get("f1") or 0.0
        if b < a - config.category_tolerance:
            reasons.append(f"{c}: F1 {b:.4f} < {a:.4f} - {config.category_tolerance:g}")
    return not reasons, reasons


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def required_artifacts(settings: Settings) -> list[str]:
    """Model files the pipeline loads under `settings` (cascade.json is optional: no early exits)."""
    names = ["linear.npz", "fusion.json"]
    if settings.pipeline.enable_encoder:
        names.append("encoder_minilm.npz")
    if settings.pipeline.enable_multilingual:
        names.append("multilingual_e5.npz")
    return names


def build_golden_set(
    data_dir: Path, path: Path, per_dataset: int = GOLDEN_PER_DATASET, seed: int = GOLDEN_SEED
) -> int:
    """A fixed, stratified sample of every training data set's test split, written as eval JSONL.

    Per data set up to `per_dataset` items, split across its label patterns (benign, hate, spam, ...)
    in proportion but with at least 5 of each pattern, so rare categories are still measured.
    Returns the number of items written.
    """
    from .datasets import load_datasets

    items = [i for i in load_datasets(data_dir) if i.split == "test" and i.train_use]
    if not items:
        raise ValidationError(f"no test-split items found under {data_dir} to build a golden set from")
    rng = np.random.default_rng(seed)
    chosen = []
    for dataset in sorted({i.dataset for i in items}):
        groups: dict[tuple[str, ...], list[int]] = {}
        members = [i for i in items if i.dataset == dataset]
        for k, item in enumerate(members):
            pattern = tuple(item.positives()) or (("any",) if item.any_violation == 1 else ())
            groups.setdefault(pattern, []).append(k)
        for _pattern, idx in sorted(groups.items()):
            want = max(5, round(per_dataset * len(idx) / len(members)))
            pick = rng.choice(len(idx), min(want, len(idx)), replace=False)
            chosen += [members[idx[p]] for p in sorted(pick)]
    return write_golden(chosen, path)


def write_golden(items: Iterable[LabeledText], path: Path) -> int:
    """Items as eval JSONL that `warden eval` reads (data set and split kept under `metadata`)."""
    from .datasets import eval_record

    n = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            rec = eval_record(item)
            if rec is not None:
                rec["metadata"] = {"dataset": rec.pop("dataset"), "split": rec.pop("split")}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
    return n


@dataclass
class Version:
    id: str
    path: str  # relative to the registry root, or absolute (the baseline lives elsewhere)
    status: str
    created_at: str
    parent: str | None = None
    note: str = ""
    gate: dict[str, Any] | None = None
    training: dict[str, Any] | None = None


class ModelRegistry:
    def __init__(self, root: Path = DEFAULT_ROOT, baseline: Path | None = None) -> None:
        from ..settings import DEFAULT_MODELS_DIR

        self.root = Path(root)
        self.baseline = Path(baseline or DEFAULT_MODELS_DIR).resolve()

    # -- state ----------------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.root / "registry.json"

    @property
    def exists(self) -> bool:
        return self.index_path.is_file()

    def _read(self) -> dict[str, Any]:
        if not self.exists:
            raise NotFoundError(
                f"no model registry at {self.root} (it is created by `warden train --registry`)"
            )
        data: dict[str, Any] = json.loads(self.index_path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.index_path.with_name(f".registry.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.index_path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write of registry.json under an exclusive lock (two trainings may finish together)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._read()
                yield data
                self._write(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def versions(self) -> list[Version]:
        if not self.exists:
            return [Version(BASELINE, str(self.baseline), "live", "", note="shipped models (no registry)")]
        return [Version(**v) for v in self._read()["versions"]]

    def version(self, version_id: str) -> Version:
        for v in self.versions():
            if v.id == version_id:
                return v
        raise NotFoundError(f"unknown model version {version_id!r}; known: {[v.id for v in self.versions()]}")

    def path_of(self, version_id: str) -> Path:
        path = Path(self.version(version_id).path)
        return path if path.is_absolute() else self.root / path

    def live_version(self) -> str:
        return next(v.id for v in self.versions() if v.status == "live")

    def live_dir(self) -> Path:
        """The live models directory: the `current` pointer, or the baseline when there is no registry."""
        current = self.root / "current"
        return current.resolve() if self.exists and current.exists() else self.baseline

    @property
    def golden_path(self) -> Path:
        return self.root / GOLDEN_FILE

    # -- lifecycle ------------------------------------------------------------------------------

    def init(
        self, data_dir: Path | None = None, golden: Path | None = None, config: GateConfig | None = None
    ) -> None:
        """Create the registry (idempotent): the baseline as live version and the fixed golden set."""
        if self.exists:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "versions").mkdir(exist_ok=True)
        if golden is not None:
            from ..evaluate.io import read_labelled

            read_labelled(Path(golden), _policy_categories())  # refuse a malformed golden set now
            shutil.copyfile(golden, self.golden_path)
            source = str(golden)
        elif data_dir is not None:
            build_golden_set(Path(data_dir), self.golden_path)
            source = f"test splits of {data_dir} ({GOLDEN_PER_DATASET} per data set, seed {GOLDEN_SEED})"
        else:
            raise ValidationError(
                "a new registry needs a golden set: pass a golden JSONL or the data directory"
            )
        for name in required_artifacts(_ENGLISH_ONLY):
            if not (self.baseline / name).is_file():
                raise ValidationError(f"baseline models {self.baseline} lack {name}")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        data = {
            "format": 1,
            "golden": {"path": GOLDEN_FILE, "sha256": _sha256(self.golden_path), "source": source},
            "gate": asdict(config or GateConfig()),
            "versions": [
                asdict(Version(BASELINE, str(self.baseline), "live", now, note="models at creation"))
            ],
            "history": [{"at": now, "live": BASELINE, "reason": "registry created"}],
        }
        self._write(data)
        self._point("current", str(self.baseline))

    def _point(self, name: str, target: str) -> None:
        """Atomically (re)point the `name` symlink: readers see the old or the new target, never none."""
        tmp = self.root / f".{name}.{os.getpid()}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, self.root / name)

    def new_version(self, note: str = "") -> tuple[str, Path]:
        """Reserve the next version id and its (empty) directory, registered as a candidate."""
        with self._locked() as data:
            n = 1 + sum(1 for v in data["versions"] if v["id"] != BASELINE)
            while (self.root / "versions" / f"v{n:04d}").exists():
                n += 1
            vid = f"v{n:04d}"
            path = self.root / "versions" / vid
            path.mkdir(parents=True)
            data["versions"].append(
                asdict(
                    Version(
                        vid,
                        f"versions/{vid}",
                        "candidate",
                        datetime.now(UTC).isoformat(timespec="seconds"),
                        parent=next(v["id"] for v in data["versions"] if v["status"] == "live"),
                        note=note,
                    )
                )
            )
        return vid, path

    def _set(self, version_id: str, **changes: Any) -> None:
        with self._locked() as data:
            for v in data["versions"]:
                if v["id"] == version_id:
                    v.update(changes)
                    return
            raise NotFoundError(f"unknown model version {version_id!r}")

    def promote(self, version_id: str, reason: str = "manual") -> None:
        """Make `version_id` live (atomic pointer switch); the previous live version is kept as retired."""
        target = self.version(version_id)
        path = self.path_of(version_id)
        missing = [n for n in required_artifacts(_ENGLISH_ONLY) if not (path / n).is_file()]
        if missing:
            raise ValidationError(
                f"version {version_id} at {path} lacks {', '.join(missing)}: cannot go live"
            )
        with self._locked() as data:
            for v in data["versions"]:
                if v["status"] == "live" and v["id"] != version_id:
                    v["status"] = "retired"
                if v["id"] == version_id:
                    v["status"] = "live"
            data["history"].append(
                {"at": datetime.now(UTC).isoformat(timespec="seconds"), "live": version_id, "reason": reason}
            )
            self._point("current", target.path)

    def rollback(self) -> str:
        """Make the previously live version live again; returns its id."""
        history = self._read()["history"]
        live = self.live_version()
        for entry in reversed(history):
            if entry["live"] != live:
                self.promote(entry["live"], reason=f"rollback from {live}")
                return str(entry["live"])
        raise ValidationError("no earlier live version to roll back to")

    # -- evaluation and the gate ----------------------------------------------------------------

    def golden_items(self, golden: Path | None = None) -> tuple[list[LabelledItem], str, str]:
        """(items, sha256, path) of `golden` or of the registry's fixed golden set."""
        from ..evaluate.io import read_labelled

        path = Path(golden) if golden is not None else self.golden_path
        if not path.is_file():
            raise ValidationError(f"golden set {path} not found")
        return read_labelled(path, _policy_categories()), _sha256(path), str(path)

    def submit(
        self,
        version_id: str,
        settings: Settings,
        policy: Policy | None = None,
        config: GateConfig | None = None,
        golden: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> GateReport:
        """Gate `version_id` against the live version: promote it if not worse, else keep it in shadow."""
        config = config or GateConfig(**self._read().get("gate", {}))
        current = self.live_version()
        items, sha, golden_path = self.golden_items(golden)
        path = self.path_of(version_id)
        missing = [n for n in required_artifacts(settings) if not (path / n).is_file()]
        lacking = [n for n in required_artifacts(settings) if not (self.path_of(current) / n).is_file()]
        if lacking:
            raise ValidationError(
                f"the live version {current} lacks {', '.join(lacking)}: these settings cannot run it"
            )
        old = evaluate_models(self.path_of(current), current, items, sha, settings, policy, progress)
        if missing:
            new = Scorecard(version_id, len(items), sha, {})
            passed, reasons = False, [f"missing artifacts the live settings need: {', '.join(missing)}"]
        else:
            new = evaluate_models(path, version_id, items, sha, settings, policy, progress)
            passed, reasons = gate(old, new, config)
        cats = old.gated(config)
        report = GateReport(
            candidate=version_id,
            current=current,
            passed=passed,
            promoted=passed,
            reasons=reasons,
            gated_categories=cats,
            current_macro_f1=round(old.macro_f1(cats), 4),
            candidate_macro_f1=round(new.macro_f1(cats), 4),
            current_scores=old,
            candidate_scores=new,
            config=config,
            golden=golden_path,
        )
        (path / "gate.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
        summary = {
            k: v for k, v in report.to_dict().items() if k not in ("current_scores", "candidate_scores")
        }
        if passed:
            self._set(version_id, gate=summary)
            self.promote(version_id, reason=f"passed the gate against {current}")
        else:
            self._set(version_id, gate=summary, status="shadow")
            self._point("shadow", self.version(version_id).path)
        return report


def _policy_categories() -> list[str]:
    from ..policy.model import load_policy
    from ..settings import get_settings

    return load_policy(get_settings().policy_path).category_ids


def evaluate_models(
    models_dir: Path,
    version_id: str,
    items: Sequence[LabelledItem],
    golden_sha256: str,
    settings: Settings,
    policy: Policy | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 256,
) -> Scorecard:
    """Run the full pipeline from `models_dir` on the golden items; F1 per category at policy thresholds."""
    from ..content import Content
    from ..evaluate.runner import arrays_from, evaluate_arrays
    from ..moderator import Moderator

    run_settings = settings.model_copy(update={"models_dir": Path(models_dir)})
    moderator = Moderator.from_settings(run_settings, policy=policy).load()
    limit = settings.limits.max_text_chars
    decisions = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        decisions += moderator.moderate(
            [Content(id=i.id, text=i.text[:limit], language=i.language) for i in chunk]
        )
        if progress:
            progress(len(chunk))
    cats = moderator.policy.category_ids
    result = evaluate_arrays(arrays_from(list(items), decisions, cats))
    keep = ("f1", "precision", "recall", "support_pos", "support_neg")
    categories = {
        c: {k: m.get(k) for k in keep}
        for c, m in result["categories"].items()
        if (m.get("support_pos") or 0) > 0
    }
    for m in categories.values():
        # No item flagged while positives exist: precision is undefined but recall, and so F1, is 0.
        if m["f1"] is None:
            m["f1"] = 0.0
    return Scorecard(version_id, len(items), golden_sha256, categories, result["overall"].get("f1"))


def train_and_gate(
    policy: Policy,
    config: TrainConfig,
    registry: ModelRegistry,
    settings: Settings,
    labels: Sequence[ReviewLabel] = (),
    golden: Path | None = None,
    gate_config: GateConfig | None = None,
    console: Console | None = None,
    progress: Callable[[int], None] | None = None,
) -> GateReport:
    """`warden train` with a registry: merge review labels, train a candidate version, gate it."""
    from .review_labels import review_items
    from .train import train

    registry.init(data_dir=config.data_dir, golden=golden, config=gate_config)
    golden_items, _, _ = registry.golden_items(golden)
    extra: list[LabeledText] = []
    if labels:
        extra, stats = review_items(labels)
        if console:
            console.print(f"review labels: {stats}")
    vid, path = registry.new_version(note=f"{len(labels)} review labels" if labels else "retrain")
    run = replace(
        config,
        out_dir=path,
        model_version=f"{datetime.now(UTC).strftime('%Y%m%d')}-{vid}",
        extra_items=extra,
        # Neither the golden set nor any test split is ever trained on (review labels included).
        protected_texts=[i.text for i in golden_items],
    )
    try:
        report = train(policy, run, console)
    except BaseException:
        registry._set(vid, status="failed")
        raise
    # The version carries what made it: the run's configuration, the data manifest (each data
    # set's file hashes) and the training metrics (the whole report stays in its training.json).
    keys = ("n_train", "n_calib", "review_labels", "seconds", "config", "data_manifest", "finetune")
    training = {k: report.get(k) for k in keys}
    training["metrics"] = report.get("calibration_oof")
    registry._set(vid, training=training)
    return registry.submit(vid, settings, policy, gate_config, golden, progress)


def gate_table(report: GateReport) -> Any:
    """The gate's comparison as a rich Table: F1 per category, live vs candidate."""
    from rich.table import Table

    verdict = "passed" if report.passed else "failed"
    table = Table(
        "category",
        "positives",
        f"F1 {report.current}",
        f"F1 {report.candidate}",
        "change",
        "gated",
        title=f"regression gate on {report.golden} ({report.current_scores.n_items:,} items): {verdict}",
    )
    old, new = report.current_scores.categories, report.candidate_scores.categories
    for cat in sorted(old):
        a, b = old[cat].get("f1"), new.get(cat, {}).get("f1")
        change = f"{b - a:+.4f}" if a is not None and b is not None else "-"
        table.add_row(
            cat,
            str(old[cat].get("support_pos")),
            "-" if a is None else f"{a:.4f}",
            "-" if b is None else f"{b:.4f}",
            change,
            "yes" if cat in report.gated_categories else "no",
        )
    table.add_row(
        "macro (gated)",
        "",
        f"{report.current_macro_f1:.4f}",
        f"{report.candidate_macro_f1:.4f}",
        f"{report.candidate_macro_f1 - report.current_macro_f1:+.4f}",
        "",
    )
    return table
