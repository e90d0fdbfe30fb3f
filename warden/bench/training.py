"""Training area: fine-tuning throughput with one and two data-parallel workers.

One real job (English training items of the data sets, hash-sampled; the fine-tuning loop of
`warden/learn/finetune`, all-MiniLM-L6-v2 with its token embeddings frozen, global batch 32) runs
`WARDEN_BENCH_TRAINING_STEPS` steps (default 40) twice under torchrun: one worker, then two DDP
workers over gloo, one intra-op thread each (so that the two-worker run uses the two cores and
the one-worker run one of them). Throughput is all workers' samples over the slowest worker's
training time (evaluation excluded), as `metrics.json` records it.

Figures: training_samples_per_s_1worker, training_samples_per_s_2workers, training_dp_efficiency
(2-worker throughput / (2 × 1-worker); 1.0 is perfect scaling), training_steps, training_batch.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from rich.console import Console

from ..learn.datasets import load_datasets, sample_key
from ..learn.finetune.launch import run_torchrun
from ..learn.finetune.loop import FineTuneConfig
from ..learn.finetune.prepare import BASE_ENCODERS, prepare_job
from ..policy.model import load_policy
from ..settings import get_settings

console = Console()


def run() -> dict[str, float]:
    settings = get_settings()
    steps = int(os.environ.get("WARDEN_BENCH_TRAINING_STEPS", "40"))
    batch = 32
    policy = load_policy(settings.policy_path)
    items = [i for i in load_datasets(settings.data_dir) if i.language == "en" and i.train_use]
    # Enough items for `steps` distinct batches, from every data set (hash order, not file order).
    items = sorted(items, key=sample_key)
    train = [i for i in items if i.split == "train"][: steps * batch]
    calib = [i for i in items if i.split == "calib"][:200]
    config = FineTuneConfig(
        base_model_dir=str(BASE_ENCODERS["minilm"].model_dir()),
        epochs=1,
        batch_size=batch,
        max_steps=steps,
        threads=1,
    )
    with tempfile.TemporaryDirectory(prefix="warden-bench-training-") as tmp:
        job, _ = prepare_job(
            Path(tmp) / "jobs", train + calib, policy.category_ids, config, max_per_dataset=None
        )
        rates: dict[int, float] = {}
        for workers in (1, 2):
            # A fresh copy of the prepared job each time: the same folder would resume, not rerun.
            run_dir = Path(tmp) / f"run-{workers}"
            run_dir.mkdir()
            for name in ("config.json", "prepared.npz"):
                shutil.copy(job / name, run_dir / name)
            console.print(f"  fine-tuning {steps} steps with {workers} worker(s), one thread each")
            run_torchrun(run_dir, workers, threads_per_worker=1)
            history = json.loads((run_dir / "metrics.json").read_text())
            rates[workers] = float(history[-1]["train_samples_per_s"])
            console.print(f"    {rates[workers]:.1f} samples/s")
    return {
        "training_samples_per_s_1worker": rates[1],
        "training_samples_per_s_2workers": rates[2],
        "training_dp_efficiency": rates[2] / (2 * rates[1]),
        "training_steps": float(steps),
        "training_batch": float(batch),
    }
