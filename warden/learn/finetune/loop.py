"""The fine-tuning loop: one function, three ways to run it.

`train_worker(job)` is the whole loop. It runs
- in the calling process (`warden train`; one worker),
- once per process under `torchrun --nproc-per-node N -m warden.learn.finetune JOB_DIR` (DDP over
  the gloo backend: the process group comes from torchrun's environment),
- once per Ray Train worker (`warden train --ray`: `ray.train.torch.TorchTrainer` sets up the same
  process group).
Every rank reads the same prepared data (`prepared.npz`, written once by `prepare.py`) and draws the
same seeded batch order, then takes its own share of the batches. Rank 0 evaluates on the
calibration split after each epoch, writes `metrics.json` and a resumable `checkpoint.pt`, and
decides early stopping for all ranks.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .data import EncodedSet, bucketed_batches, collate, positive_weights
from .model import BertEncoder, MultiLabelClassifier

SEED = 20261202


@dataclass
class FineTuneConfig:
    """Hyper-parameters of one run (written to the job folder, so every worker reads the same)."""

    base_model_dir: str
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_share: float = 0.06
    patience: int = 1
    max_positive_weight: float = 8.0
    # The token embedding matrix is half of MiniLM's weights; frozen, each step syncs and updates
    # half as much and the rare words of a small training set cannot drift.
    freeze_token_embeddings: bool = True
    seed: int = SEED
    threads: int | None = None
    max_steps: int | None = None  # per epoch; benchmarks and smoke tests
    eval_batch_size: int = 64
    dropout: float | None = None  # None: the base model's own (0.1); 0 for exact replay tests
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, job_dir: Path) -> None:
        (job_dir / "config.json").write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, job_dir: Path) -> FineTuneConfig:
        return cls(**json.loads((job_dir / "config.json").read_text()))


def load_prepared(job_dir: Path) -> tuple[EncodedSet, EncodedSet, list[str]]:
    data = np.load(job_dir / "prepared.npz", allow_pickle=False)

    def unpack(prefix: str) -> EncodedSet:
        flat, offsets = data[f"{prefix}_ids"], data[f"{prefix}_offsets"]
        ids = [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
        return EncodedSet(ids=ids, labels=data[f"{prefix}_labels"], weights=data[f"{prefix}_weights"])

    return unpack("train"), unpack("calib"), json.loads(str(data["categories"]))


def save_prepared(job_dir: Path, train: EncodedSet, calib: EncodedSet, categories: list[str]) -> None:
    arrays: dict[str, np.ndarray] = {"categories": np.array(json.dumps(categories))}
    for prefix, part in (("train", train), ("calib", calib)):
        arrays[f"{prefix}_ids"] = np.concatenate([np.asarray(i, dtype=np.int32) for i in part.ids])
        arrays[f"{prefix}_offsets"] = np.concatenate([[0], np.cumsum([len(i) for i in part.ids])])
        arrays[f"{prefix}_labels"] = part.labels
        arrays[f"{prefix}_weights"] = part.weights
    np.savez(job_dir / "prepared.npz", **arrays)  # type: ignore[arg-type]


@dataclass
class RunState:
    """Where a run stands; saved in the checkpoint so that a resumed run continues, not restarts."""

    epoch: int = 0
    best: float = -1.0
    bad_epochs: int = 0
    done: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def masked_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, pos_weight: torch.Tensor
) -> torch.Tensor:
    """BCE over known labels only (-1 = unknown contributes nothing), positives up-weighted per
    category, each item weighted by its source weight; summed over categories, averaged over items
    (so that the mean over the workers' slices of a batch is the whole batch's loss)."""
    known = (labels >= 0).to(logits.dtype)
    target = labels.clamp(min=0)
    per = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    w = known * weights[:, None] * torch.where(target > 0, pos_weight, torch.ones_like(pos_weight))
    return (per * w).sum() / max(1, logits.shape[0])


def predict(model: torch.nn.Module, data: EncodedSet, batch_size: int = 64) -> np.ndarray:
    """Sigmoid probabilities n × C, batched by length."""
    model.eval()
    order = np.argsort(data.lengths, kind="stable")
    out = np.zeros((len(data), data.labels.shape[1]), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate(data, idx)
            out[idx] = torch.sigmoid(model(batch["input_ids"], batch["attention_mask"])).numpy()
    return out


def evaluate(probs: np.ndarray, labels: np.ndarray, categories: list[str]) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score

    per: dict[str, float] = {}
    for k, cat in enumerate(categories):
        rows = labels[:, k] >= 0
        y = labels[rows, k]
        if (y == 1).sum() >= 10 and (y == 0).sum() >= 10:
            per[cat] = round(float(average_precision_score(y, probs[rows, k])), 4)
    return {
        "mean_average_precision": round(float(np.mean(list(per.values()))), 4) if per else 0.0,
        "average_precision": per,
    }


def build_model(config: FineTuneConfig, n_labels: int) -> MultiLabelClassifier:
    model = MultiLabelClassifier(
        BertEncoder.from_pretrained(Path(config.base_model_dir), dropout=config.dropout),
        n_labels,
        dropout=0.1 if config.dropout is None else config.dropout,
    )
    if config.freeze_token_embeddings:
        model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def train_worker(job_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the fine-tuning job in `job_dir`; returns rank 0's summary."""
    job_dir = Path(job_dir)
    config = FineTuneConfig.load(job_dir)
    rank, world = _world()
    torch.set_num_threads(config.threads or max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(config.seed)
    train, calib, categories = load_prepared(job_dir)
    model = build_model(config, len(categories))
    # Initialise the head's bias at each category's base rate: the first steps then learn
    # features, not the prior.
    with torch.no_grad():
        for k in range(len(categories)):
            known = train.labels[:, k] >= 0
            rate = float(np.clip((train.labels[known, k] == 1).mean() if known.any() else 0.01, 1e-3, 0.5))
            model.head.bias[k] = math.log(rate / (1 - rate))
    pos_weight = torch.from_numpy(positive_weights(train.labels, train.weights, config.max_positive_weight))

    # `batch_size` is the global batch: each of `world` workers takes its slice of every batch, so
    # 1, 2 or N workers take the same optimisation steps (the same run, within float noise).
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    if config.max_steps:
        steps_per_epoch = min(steps_per_epoch, config.max_steps)
    total_steps = steps_per_epoch * config.epochs
    head_params = list(model.head.parameters())
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": encoder_params, "lr": config.lr}, {"params": head_params, "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )
    warmup = max(1, int(total_steps * config.warmup_share))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    state = RunState()
    checkpoint = job_dir / "checkpoint.pt"
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = RunState(**saved["state"])
    ddp_model: torch.nn.Module = model
    if world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)

    while state.epoch < config.epochs and not state.done:
        epoch = state.epoch
        # Same seed on every rank: identical global batches, each rank takes its own slice of each.
        rng = np.random.default_rng(config.seed + epoch)
        batches = [
            b[rank::world]
            for b in bucketed_batches(train.lengths, config.batch_size, rng)[:steps_per_epoch]
            if len(b) >= world
        ]
        ddp_model.train()
        started, seen, loss_sum = time.perf_counter(), 0, 0.0
        bar = _progress(progress and rank == 0, len(batches), f"fine-tune epoch {epoch + 1}/{config.epochs}")
        for index in batches:
            batch = collate(train, index)
            logits = ddp_model(batch["input_ids"], batch["attention_mask"])
            loss = masked_loss(logits, batch["labels"], batch["weights"], pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            seen += len(index)
            loss_sum += float(loss.detach()) * len(index)
            bar.advance()
        bar.close()
        seconds = time.perf_counter() - started
        totals = torch.tensor([seen, loss_sum], dtype=torch.float64)
        slowest = torch.tensor([seconds], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(totals)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        n_seen, wall = float(totals[0]), float(slowest[0])
        stop = torch.zeros(1)
        if rank == 0:
            scores = evaluate(predict(model, calib, config.eval_batch_size), calib.labels, categories)
            record = {
                "epoch": epoch + 1,
                "workers": world,
                "train_samples": int(n_seen),
                "train_loss": round(float(totals[1]) / max(n_seen, 1.0), 5),
                # Samples of all workers over the slowest worker's time.
                "train_samples_per_s": round(n_seen / max(wall, 1e-9), 2),
                "seconds": round(wall, 1),
                "calib_mean_average_precision": scores["mean_average_precision"],
                "calib_average_precision": scores["average_precision"],
            }
            state.history.append(record)
            if scores["mean_average_precision"] > state.best:
                state.best, state.bad_epochs = scores["mean_average_precision"], 0
                torch.save(model.state_dict(), job_dir / "best.pt")
            else:
                state.bad_epochs += 1
            state.epoch = epoch + 1
            if state.bad_epochs >= config.patience:
                stop[0] = 1
                state.done = True
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "state": asdict(state),
                },
                checkpoint,
            )
            (job_dir / "metrics.json").write_text(json.dumps(state.history, indent=1))
        else:
            state.epoch = epoch + 1
        if world > 1:
            dist.broadcast(stop, 0)
        if stop[0] > 0:
            break
    return {"best_calib_mean_average_precision": state.best, "history": state.history}


class _progress:
    """A rich progress bar on rank 0, nothing elsewhere (and nothing when not a terminal)."""

    def __init__(self, show: bool, total: int, label: str) -> None:
        self._bar = None
        if show:
            from rich.progress import Progress

            self._bar = Progress(transient=False)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
