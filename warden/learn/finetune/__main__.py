"""`torchrun --nproc-per-node N -m warden.learn.finetune JOB_DIR`: one DDP worker of a prepared job.

torchrun sets RANK/WORLD_SIZE/MASTER_ADDR; the gloo backend runs on CPUs (and GPUs, slower than
NCCL). `warden train --finetune --workers N` launches exactly this.
"""

from __future__ import annotations

import json
import sys

import torch.distributed as dist

from .loop import train_worker


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: torchrun --nproc-per-node N -m warden.learn.finetune JOB_DIR", file=sys.stderr)
        return 2
    distributed = "WORLD_SIZE" in __import__("os").environ
    if distributed:
        dist.init_process_group("gloo")
    try:
        summary = train_worker(argv[0])
        if not distributed or dist.get_rank() == 0:
            print(
                json.dumps(
                    {"best_calib_mean_average_precision": summary["best_calib_mean_average_precision"]}
                )
            )
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
