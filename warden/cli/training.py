"""Training commands: text models, model registry, active learning, media fusion, cascade exits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError
from ..policy.model import load_policy
from ..settings import get_settings
from .common import (
    _fail,
    _progress,
    _review_service,
    _settings,
    app,
    console,
)


@app.command()
def train(
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of the data sets (default ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the model files.")] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
    commercial_only: Annotated[
        bool, typer.Option(help="Train only on data sets whose licence allows commercial use.")
    ] = False,
    skip_multilingual: Annotated[bool, typer.Option(help="Skip the (slow) multilingual E5 heads.")] = False,
    labels: Annotated[
        Path | None, typer.Option(help="Review labels JSONL (`warden review export-labels`) to merge in.")
    ] = None,
    labels_from_store: Annotated[
        bool, typer.Option(help="Merge every review label in the database.")
    ] = False,
    golden: Annotated[
        Path | None, typer.Option(help="Golden set JSONL for the gate (default: the registry's).")
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="Train a candidate version here and gate it (implied by --labels/--golden)."),
    ] = None,
    dataset: Annotated[list[str] | None, typer.Option(help="Only these data set(s).")] = None,
    max_items_per_dataset: Annotated[
        int | None, typer.Option(help="Cap per data set (quick experiments).", min=1)
    ] = None,
    finetune: Annotated[
        bool,
        typer.Option(help="Fine-tune the English encoder end to end (~35 min on 2 CPU cores; what ships)."),
    ] = True,
    epochs: Annotated[
        int, typer.Option(help="Fine-tuning epochs (early stopping may end sooner).", min=1)
    ] = 2,
    workers: Annotated[
        int, typer.Option(help="Fine-tuning workers (data parallel): >1 runs under torchrun.", min=1)
    ] = 1,
    ray: Annotated[
        bool, typer.Option("--ray", help="Fine-tune on Ray Train (RAY_ADDRESS or a local cluster).")
    ] = False,
    distill: Annotated[
        bool,
        typer.Option(
            help="Distil the fast tier from the encoder tier's scores (every category; lets benign "
            "items leave after it); off: the fast tier learns from the labels alone."
        ),
    ] = True,
    reuse: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep these parts already in the models folder: fast, heads, finetune (MiniLM), "
            "finetune_e5 (repeatable)."
        ),
    ] = None,
) -> None:
    """Train the text models; with a registry, as a candidate that is promoted only if not worse."""
    from ..learn.distill import DistillSettings
    from ..learn.train import TrainConfig
    from ..learn.train import train as run_train

    settings = _settings(policy)
    gated = registry is not None or labels is not None or labels_from_store or golden is not None
    if gated and out is not None:
        _fail("--out writes models directly; with --registry/--labels/--golden the registry decides")
    config = TrainConfig(
        data_dir=data_dir or settings.data_dir,
        out_dir=out or settings.models_dir,
        commercial_only=commercial_only,
        skip_e5=skip_multilingual,
        datasets=dataset or None,
        max_items_per_dataset=max_items_per_dataset,
        pipeline=settings.pipeline,
        finetune=finetune,
        finetune_epochs=epochs,
        finetune_workers=workers,
        finetune_launcher="ray" if ray else ("torchrun" if workers > 1 else "local"),
        reuse=frozenset(reuse or ()),
        distill=DistillSettings() if distill else None,
    )
    try:
        if not gated:
            run_train(load_policy(settings.policy_path), config, console)
            return
        from ..learn.registry import DEFAULT_ROOT, ModelRegistry, gate_table, train_and_gate
        from ..learn.review_labels import labels_from_store as store_labels
        from ..learn.review_labels import read_review_labels

        active = load_policy(settings.policy_path)
        review = read_review_labels(labels, active.category_ids) if labels else []
        review += store_labels(_review_service(settings)) if labels_from_store else []
        reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=settings.models_dir)
        report = train_and_gate(active, config, reg, settings, review, golden, console=console)
    except (WardenError, FileNotFoundError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    Console().print(gate_table(report))
    where = reg.path_of(report.candidate)
    if report.promoted:
        console.print(f"[green]promoted[/] {report.candidate} ({where}); live models: {reg.root / 'current'}")
    else:
        console.print(f"[yellow]kept in shadow[/] {report.candidate} ({where}): {'; '.join(report.reasons)}")


models_app = typer.Typer(help="Model versions in a registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")
_REGISTRY_OPTION = typer.Option(help="Registry root.")


@models_app.command("list")
def models_list(registry: Annotated[Path | None, _REGISTRY_OPTION] = None) -> None:
    """Versions with their status and gate result."""
    from ..learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    table = Table("version", "status", "created", "parent", "gate", "macro F1 (live -> cand.)", "path")
    for v in reg.versions():
        g = v.gate or {}
        f1 = f"{g['current_macro_f1']:.4f} -> {g['candidate_macro_f1']:.4f}" if g else "-"
        verdict = (
            ("passed" if g.get("passed") else "failed: " + "; ".join(g.get("reasons", []))) if g else "-"
        )
        table.add_row(v.id, v.status, v.created_at, v.parent or "-", verdict, f1, v.path)
    Console().print(table)


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="Version id, e.g. v0002.")],
    registry: Annotated[Path | None, _REGISTRY_OPTION] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole record as JSON.")] = False,
) -> None:
    """One version: how it was trained (configuration, data manifest, metrics) and its gate."""
    from ..learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    try:
        v = reg.version(version)
    except WardenError as exc:
        _fail(str(exc))
    from dataclasses import asdict

    if as_json:
        print(json.dumps(asdict(v), indent=1))
        return
    training = v.training or {}
    console.print(f"[bold]{v.id}[/] {v.status}, created {v.created_at}, {v.path}")
    config = training.get("config") or {}
    if config:
        keys = ("model_version", "commercial_only", "finetune", "finetune_epochs", "finetune_launcher")
        console.print("config: " + ", ".join(f"{k}={config.get(k)}" for k in keys))
    manifest = training.get("data_manifest") or {}
    if manifest:
        table = Table("data set", "licence", "commercial_ok", "files", "sha256")
        for name, entry in manifest.items():
            digest = entry.get("sha256") or "-"
            table.add_row(
                name,
                str(entry.get("licence", "-")),
                str(entry.get("commercial_ok", "-")),
                str(entry.get("n_files", len(entry.get("files", {})))),
                digest[:16],
            )
        Console().print(table)
    metrics = training.get("metrics") or {}
    if metrics:
        table = Table("category", "calibration AP (out of fold)")
        for cat, m in metrics.items():
            if "@" not in cat and isinstance(m, dict) and "oof_average_precision" in m:
                table.add_row(cat, f"{m['oof_average_precision']:.4f}")
        Console().print(table)
    for base, ft in (training.get("finetune") or {}).items():
        console.print(
            f"fine-tuned {base}: calibration mean AP {ft.get('calib_mean_average_precision')}, "
            f"{ft.get('quantised')}, {ft.get('launcher')} × {ft.get('workers')}"
        )
    if v.gate:
        console.print(f"gate: {'passed' if v.gate.get('passed') else 'failed'} {v.gate.get('reasons', [])}")


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version id, e.g. v0002.")],
    registry: Annotated[Path | None, _REGISTRY_OPTION] = None,
) -> None:
    """Make a version live by hand (overrides the gate; recorded in the history)."""
    from ..learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    try:
        reg.promote(version, reason="manual promote")
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"[green]live[/]: {version} -> {reg.root / 'current'}")


@models_app.command("rollback")
def models_rollback(registry: Annotated[Path | None, _REGISTRY_OPTION] = None) -> None:
    """Make the previously live version live again."""
    from ..learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    try:
        version = reg.rollback()
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"[green]live[/]: {version}")


@app.command()
def learn(
    budget: Annotated[int, typer.Option(help="How many items to propose.", min=1)],
    data: Annotated[
        Path | None,
        typer.Option(help="Pool: JSONL/CSV of items (JSONL items with 'labels' count as labelled)."),
    ] = None,
    from_store: Annotated[
        bool, typer.Option(help="Pool: pending review tasks in the database (labelled: its review labels).")
    ] = False,
    strategy: Annotated[
        str, typer.Option(help="random | uncertainty | margin | kcenter | hybrid")
    ] = "hybrid",
    labels: Annotated[
        Path | None, typer.Option(help="Review labels JSONL: items with these texts count as labelled.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Write the proposed batch (JSONL) here.")] = Path("batch.jsonl"),
    seed: Annotated[int, typer.Option(help="Seed for tie-breaking and random sampling.")] = 0,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
) -> None:
    """Propose the next batch to label: the live models' uncertainty and/or diversity of MiniLM embeddings."""
    from ..learn.active import mark_labelled, pool_from_store, propose_batch, read_pool
    from ..learn.review_labels import read_review_labels
    from ..moderator import Moderator

    if (data is None) == (not from_store):
        _fail("give exactly one pool: --data FILE or --from-store")
    settings = _settings(policy)
    try:
        pool = read_pool(data) if data is not None else pool_from_store(_review_service(settings))
        if labels is not None:
            pool = mark_labelled(pool, [lab.text for lab in read_review_labels(labels)])
        moderator = Moderator.from_settings(settings).load()
        with _progress() as bar:
            task = bar.add_task(f"scoring and embedding {len(pool):,} items", total=2 * len(pool))
            batch = propose_batch(
                moderator, pool, budget, strategy, seed, progress=lambda n: bar.advance(task, n)
            )
    except (WardenError, FileNotFoundError) as exc:
        _fail(str(exc))
    with out.open("w", encoding="utf-8") as fh:
        for row in batch:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    labelled = sum(i.labelled for i in pool)
    console.print(
        f"[green]proposed[/] {len(batch)} of {len(pool) - labelled:,} unlabelled items ({strategy}) -> {out}"
    )


@app.command("train-media-fusion")
def train_media_fusion(
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of the data sets (default ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write media_fusion.json.")] = None,
    n_calib: Annotated[int | None, typer.Option(help="Calib-split memes to render (default all).")] = None,
    n_test: Annotated[int | None, typer.Option(help="Test-split memes to render (default all).")] = None,
) -> None:
    """Fit the multimodal fusion on rendered memes + captions (calib split); report on the test split."""
    from ..learn.media.train_fusion import FusionTrainConfig
    from ..learn.media.train_fusion import train_media_fusion as run_fusion
    from ..media.ocr import TesseractOcr
    from ..moderator import Moderator

    settings = _settings()
    config = FusionTrainConfig(
        data_dir=data_dir or settings.data_dir,
        out_dir=out or settings.media.models_dir,
        n_calib=n_calib,
        n_test=n_test,
    )
    try:
        moderator = Moderator.from_settings(settings).load()
        ocr = TesseractOcr(
            languages=settings.media.ocr_languages,
            timeout_s=settings.media.ocr_timeout_s,
            workers=settings.media.threads,
        )
        report = run_fusion(config, moderator, ocr, console)
    except WardenError as exc:
        _fail(str(exc))
    Console().print_json(data={k: v for k, v in report.items() if k.startswith("test")})


cascade_app = typer.Typer(
    help="The cost-aware cascade: fit where each stage lets items leave.", no_args_is_help=True
)
app.add_typer(cascade_app, name="cascade")


@cascade_app.command("fit")
def cascade_fit(
    sample: Annotated[
        int, typer.Option(help="Validation items to fit on (calibration split).", min=100)
    ] = 3000,
    max_missed: Annotated[
        float, typer.Option(help="Share of full-cascade flags early exits may lose.")
    ] = 0.01,
    data_dir: Annotated[Path | None, typer.Option(help="Root of the data sets.")] = None,
) -> None:
    """Fit the benign-exit thresholds on validation data and write cascade.json beside the models."""
    from ..cascade import fit_cascade
    from ..learn.validation import validation_sample
    from ..moderator import Moderator

    settings = get_settings().override(pipeline={"cascade_exits": False})
    try:
        items, truth = validation_sample(data_dir or settings.data_dir, sample)
    except WardenError as exc:
        _fail(str(exc))
    moderator = Moderator.from_settings(settings).load()
    with console.status(f"running the full cascade on {len(items):,} validation items"):
        plan = fit_cascade(moderator, items, truth, max_missed=max_missed)
    table = Table("exit_below", "escalated", "agreement", "F1", "cost / 1,000", title="fast-stage trade-off")
    for row in plan.tradeoff:
        table.add_row(
            f"{row['exit_below']:g}",
            f"{row['escalated_share']:.1%}",
            f"{row['agreement_with_full_cascade']:.1%}",
            f"{row['f1']:.3f}",
            f"{row['cost_per_1000']:,.0f}",
        )
    Console().print(table)
    path = plan.save(settings.models_dir)
    console.print(f"exits {plan.exit_below} -> {path}")
