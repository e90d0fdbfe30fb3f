"""Text stage: the cost-ordered detector cascade (`pipeline.text_tiers`: the fast n-gram tier, then
the encoder tier for the item's language) over items with text and no media. Also the one place the
declared tiers become detectors, for serving and for training alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..content import TEXT_KINDS
from ..decision import Versions
from ..detectors.base import BuildContext, Detector, registry
from ..errors import ConfigError
from ..fusion import FusionModel
from ..pipeline import Pipeline, flag_thresholds
from ..pipeline import Stage as Tier
from .base import ItemState, Parts, Stage, register

if TYPE_CHECKING:
    from ..policy.model import Policy
    from ..runtime.embedders import Embedder
    from ..settings import PipelineSettings, Settings


def _register_detectors() -> None:
    # Importing the modules registers their detector classes under their names.
    from ..detectors import embedding_head, fewshot, finetuned, linear  # noqa: F401


def declared_tiers(
    pipeline: PipelineSettings,
    models_dir: Path,
    policy: Policy,
    embedders: Mapping[str, Embedder] | None = None,
    skip_embedders: frozenset[str] = frozenset(),
) -> list[tuple[str, list[Detector]]]:
    """(tier name, detectors) as `pipeline.text_tiers` declares them, minus the tiers' detectors the
    switches turn off (`enable_encoder`: MiniLM, `enable_multilingual`: E5; `skip_embedders` for
    training without one). Tiers left empty are dropped."""
    _register_detectors()
    skip = set(skip_embedders)
    if not pipeline.enable_encoder:
        skip.add("minilm")
    if not pipeline.enable_multilingual:
        skip.add("e5")
    context = BuildContext(models_dir=Path(models_dir), policy=policy, embedders=dict(embedders or {}))
    tiers = []
    for tier in pipeline.text_tiers:
        try:
            classes = [registry.get(name) for name in tier.detectors]
        except KeyError as exc:
            raise ConfigError(f"pipeline.text_tiers, tier {tier.name!r}: {exc.args[0]}") from None
        detectors = [cls.build(context) for cls in classes if getattr(cls, "embedder_name", None) not in skip]
        if detectors:
            tiers.append((tier.name, detectors))
    return tiers


def build_pipeline(policy: Policy, models_dir: Path, settings: Settings) -> Pipeline:
    """The declared text cascade with its trained fusion, early exits and the policy's thresholds."""
    from ..cascade import CascadePlan

    plan = CascadePlan.load(models_dir) if settings.pipeline.cascade_exits else None
    exits = plan.exit_below if plan else {}
    stages: list[Tier] = []
    for name, detectors in declared_tiers(settings.pipeline, models_dir, policy):
        # A violation the first tier is already sure of needs no more expensive evidence.
        exit_at = settings.pipeline.fast_exit_probability if not stages else None
        stages.append(Tier(name, detectors, exit_at=exit_at, exit_below=exits.get(name)))
    fusion = FusionModel.load(models_dir)
    return Pipeline(stages, fusion, policy.category_ids, flag_thresholds(policy, fusion))


@register
class TextStage(Stage):
    name = "text"
    reads = frozenset({"text"})

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    def build(cls, parts: Parts) -> TextStage:
        return cls(parts.pipeline)

    @property
    def cost(self) -> float:
        return sum(tier.cost for tier in self.pipeline.stages)

    def score(self, states: Sequence[ItemState], versions: Versions) -> None:
        todo = [s for s in states if s.open and not s.media and s.content.kind in TEXT_KINDS]
        if not todo:
            return
        results = self.pipeline.run([s.content for s in todo], [s.language for s in todo])
        for state, result in zip(todo, results, strict=True):
            state.result = result
            state.traces.extend(result.stages)
            state.scored = True
