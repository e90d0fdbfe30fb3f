"""Run a prepared fine-tuning job: in this process, under torchrun (DDP), or on Ray Train.

All three call `loop.train_worker(job_dir)`; only who creates the process group differs. The
job folder is the contract: workers on other machines need it on a shared path (or the Ray
cluster's working directory), nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .loop import train_worker


def run_local(job_dir: Path, progress: bool = True) -> dict[str, Any]:
    return train_worker(job_dir, progress=progress)


def run_torchrun(job_dir: Path, workers: int, threads_per_worker: int | None = None) -> dict[str, Any]:
    """`torchrun --standalone --nproc-per-node workers -m warden.learn.finetune job_dir`."""
    env = dict(os.environ)
    if threads_per_worker:
        env["OMP_NUM_THREADS"] = str(threads_per_worker)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={workers}",
        "-m",
        "warden.learn.finetune",
        str(job_dir),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"torchrun failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return _summary(job_dir)


def run_ray(job_dir: Path, workers: int, address: str | None = None) -> dict[str, Any]:
    """Ray Train: `TorchTrainer` starts `workers` workers (gloo process group) on the cluster at
    `address` (None: a local cluster, or the one `RAY_ADDRESS` names)."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    job = str(Path(job_dir).resolve())

    def worker(_: dict) -> None:
        train_worker(job, progress=False)

    trainer = TorchTrainer(
        worker,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=False),
        torch_config=TorchConfig(backend="gloo"),
        run_config=RunConfig(storage_path=str(Path(job) / "ray"), name="finetune"),
    )
    trainer.fit()
    return _summary(job_dir)


def _summary(job_dir: Path) -> dict[str, Any]:
    history = json.loads((Path(job_dir) / "metrics.json").read_text())
    best = max((h["calib_mean_average_precision"] for h in history), default=0.0)
    return {"best_calib_mean_average_precision": best, "history": history}


LAUNCHERS = ("local", "torchrun", "ray")


def finetune_encoder(
    jobs_root: Path,
    items: list,  # list[LabeledText]
    categories: list[str],
    out_dir: Path,
    model_version: str,
    *,
    base: str = "minilm",
    epochs: int = 2,
    max_per_dataset: int | None = 2000,
    english_per_dataset: int | None = None,
    max_steps: int | None = None,
    launcher: str = "local",
    workers: int = 1,
    seed: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Prepare (or resume) the job of base encoder `base` ("minilm", "e5"), train it the chosen
    way, export it to `out_dir/<artifact>.onnx`; returns the exported model's metadata plus the data
    summary. `english_per_dataset` caps English sets lower than the others (a multilingual encoder
    learns from English too, but should not be mostly English)."""
    from ..datasets import sample_key
    from .data import balanced_sample
    from .export import export_job
    from .loop import SEED, FineTuneConfig
    from .prepare import BASE_ENCODERS, prepare_job

    if launcher not in LAUNCHERS:
        raise ValueError(f"unknown launcher {launcher!r}; one of {', '.join(LAUNCHERS)}")
    if launcher == "local" and workers != 1:
        raise ValueError("the local launcher runs one worker; use torchrun or ray for more")
    if base not in BASE_ENCODERS:
        raise ValueError(f"unknown base encoder {base!r}; one of {', '.join(BASE_ENCODERS)}")
    encoder = BASE_ENCODERS[base]
    if english_per_dataset is not None:
        english = [i for i in items if i.language == "en"]
        kept = {
            id(i)
            for split in ("train", "calib")
            for i in balanced_sample(
                [e for e in english if e.split == split], english_per_dataset, sample_key
            )
        }
        items = [i for i in items if i.language != "en" or id(i) in kept]
    config = FineTuneConfig(
        base_model_dir=str(encoder.model_dir(Path(jobs_root).parent / "base-models")),
        epochs=epochs,
        max_steps=max_steps,
        seed=SEED if seed is None else seed,
    )
    job_dir, selected = prepare_job(jobs_root, items, categories, config, base, max_per_dataset)
    if launcher == "local":
        run_local(job_dir, progress)
    elif launcher == "torchrun":
        run_torchrun(job_dir, workers)
    else:
        run_ray(job_dir, workers)
    meta = export_job(job_dir, out_dir, encoder.artifact, model_version)
    return {**meta, "data": selected, "launcher": launcher, "workers": workers}
