"""Hashed n-gram featurizer: deterministic, batch-invariant, Unicode-safe."""

import numpy as np

from warden.text.features import HashedNgrams, normalize


def test_batch_invariance_and_determinism():
    f = HashedNgrams()
    texts = ["You are an idiot", "Schönen Tag noch!", "", "日本語のテキスト", "a"]
    batch = f.transform(texts).toarray()
    for i, t in enumerate(texts):
        assert np.allclose(batch[i], f.transform([t]).toarray()[0])
    assert np.allclose(batch, f.transform(texts).toarray())
    assert batch.shape == (5, f.n_features)


def test_normalisation_folds_case_and_styled_letters():
    assert normalize("ＨＥＬＬＯ Idiot") == "hello idiot"
    f = HashedNgrams()
    a, b = f.transform(["IDIOT"]), f.transform(["ｉｄｉｏｔ"])
    assert np.allclose(a.toarray(), b.toarray())


def test_score_matches_matrix_product():
    f = HashedNgrams(n_bits=12)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(f.n_features, 3)).astype(np.float32)
    b = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    texts = ["spam spam click here", "hello there"]
    expected = f.transform(texts) @ w + b
    assert np.allclose(f.score(texts, w, b), expected, atol=1e-5)


def test_positions_point_into_the_text():
    f = HashedNgrams()
    rows, cols, local = f.hash_positions(["ab cd", "xyz"])
    assert set(rows.tolist()) == {0, 1}
    assert local.min() >= 0 and local[rows == 1].max() < len(" xyz ")
