"""Data set loaders, label mapping and splits, on the real data under the data root.

The real-data tests skip when the data root is missing (set WARDEN_DATA_DIR to point at
it) unless WARDEN_REQUIRE_DATA=1, in which case they fail. Everything is loaded once per
module to keep the run fast.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from support import DATA_DIR, require_data

from warden.errors import MissingDataError
from warden.learn import (
    CATEGORIES,
    DATASETS,
    MAPPING_NOTES,
    LabeledText,
    apply_splits,
    eval_record,
    hash_split,
    load_datasets,
    load_datasets_with_stats,
    load_raw,
    near_duplicate_key,
    read_eval_jsonl,
    to_eval_jsonl,
)
from warden.settings import DEFAULT_POLICY_PATH


def _require_data() -> Path:
    return require_data()


@pytest.fixture(scope="module")
def raw() -> list[LabeledText]:
    items, missing = load_raw(_require_data())
    assert not missing, f"data sets missing under {DATA_DIR}: {missing}"
    return items


@pytest.fixture(scope="module")
def loaded() -> tuple[list[LabeledText], dict]:
    return load_datasets_with_stats(_require_data())


def _by_dataset(items: list[LabeledText]) -> dict[str, list[LabeledText]]:
    out: dict[str, list[LabeledText]] = {}
    for it in items:
        out.setdefault(it.dataset, []).append(it)
    return out


# --- registry -------------------------------------------------------------------------


def test_categories_match_default_policy():
    from warden.policy import load_policy

    assert tuple(c.id for c in load_policy(DEFAULT_POLICY_PATH).categories) == CATEGORIES


def test_registry_is_complete():
    assert set(MAPPING_NOTES) == set(DATASETS)
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.covers and set(spec.covers) <= set(CATEGORIES)
        assert spec.languages and spec.licence
    # Licence flags the model card relies on.
    assert not DATASETS["ethos"].commercial_ok
    assert not DATASETS["korean-hate-speech"].commercial_ok
    assert not DATASETS["deceptive-opinion-spam"].train_use


# --- splits helpers (no data needed) ----------------------------------------------------


def test_near_duplicate_key_normalisation():
    base = near_duplicate_key("You are an idiot")
    assert near_duplicate_key("RT @someone: YOU are an IDIOT!!! http://t.co/abc") == base
    assert near_duplicate_key("you &amp; are an idiot") == base
    assert near_duplicate_key("<user> you are an idiot 😡") == base
    assert near_duplicate_key("You are a idiot") != base
    assert near_duplicate_key("call 0800 123") == near_duplicate_key("call 0900 4")
    # Texts with nothing left after normalisation must not all collide.
    assert near_duplicate_key("😀") != near_duplicate_key("😡")


def test_hash_split_is_fixed():
    # Golden values: a change here reshuffles every test set, so it must be deliberate.
    assert near_duplicate_key("Hello, World!") == "6adfb183a4a2c94a2f92dab5ade762a47889a5a1"
    # First letters of hash_split("0") .. hash_split("39").
    assert "".join(hash_split(str(i))[0] for i in range(40)) == "tttcttccccttcctttttttcttcttttttccttttccc"
    shares = Counter(hash_split(str(i)) for i in range(20000))
    assert abs(shares["train"] / 20000 - 0.70) < 0.02
    assert abs(shares["calib"] / 20000 - 0.15) < 0.02
    assert all(hash_split(str(i), fractions=(0.7, 0.3, 0.0)) != "test" for i in range(2000))
    with pytest.raises(ValueError):
        hash_split("x", fractions=(0.5, 0.5, 0.5))


def _lt(i: str, text: str, split: str, dataset: str = "d") -> LabeledText:
    return LabeledText(i, text, "en", {"hate": 1}, dataset, split, 1)


def test_apply_splits_rules():
    items = [
        _lt("t1", "Same text", "test"),
        _lt("c1", "same TEXT!!", "calib", "other"),  # near copy of a test item
        _lt("c2", "calib text", "calib"),
        _lt("r1", "Calib text.", "train"),  # near copy of a calib item
        _lt("r2", "train text", "train"),
        _lt("r3", "TRAIN text", "train"),  # duplicate within the data set
        _lt("r4", "train text", "train", "other"),  # same text, other data set: kept
    ]
    kept, stats = apply_splits(items)
    assert [i.id for i in kept] == ["t1", "c2", "r2", "r4"]
    dropped = ("dropped_test_overlap", "dropped_calib_overlap", "dropped_train_duplicate")
    assert [stats[k] for k in dropped] == [1, 1, 1]
    kept, _ = apply_splits(items, extra_test_keys=[near_duplicate_key("train text")])
    assert "r2" not in {i.id for i in kept}


# --- missing data (no real data needed) ---------------------------------------------------


def test_missing_data_dir_raises_with_path(tmp_path):
    missing = tmp_path / "no-such-root"
    with pytest.raises(MissingDataError) as exc:
        load_datasets(missing)
    assert str(missing) in str(exc.value) and "WARDEN_DATA_DIR" in str(exc.value)
    with pytest.raises(MissingDataError) as exc:
        load_datasets(tmp_path, ["davidson-hate-offensive"])
    assert str(tmp_path / "davidson-hate-offensive") in str(exc.value)
    with pytest.raises(ValueError):
        load_datasets(tmp_path, ["no-such-set"])


def _write_synthetic(root: Path) -> None:
    # Tiny made-up files in the upstream layouts (not copies of the real data).
    d = root / "deceptive-opinion-spam"
    d.mkdir()
    (d / "deceptive-opinion.csv").write_text(
        "deceptive,hotel,polarity,source,text\n"
        'truthful,x,positive,TripAdvisor,"Clean room, friendly staff."\n'
        'deceptive,y,positive,MTurk,"Best hotel ever!!! Luxury beyond words."\n',
        encoding="utf-8",
    )
    s = root / "sms-spam-collection"
    s.mkdir()
    with zipfile.ZipFile(s / "smsspamcollection.zip", "w") as zf:
        zf.writestr("smsspamcollection/SMSSpamCollection", "ham\tSee you at 6\nspam\tWIN a prize, txt 8008\n")


def test_partial_root_skips_missing_sets(tmp_path):
    _write_synthetic(tmp_path)
    items, stats = load_datasets_with_stats(tmp_path)
    assert {i.dataset for i in items} == {"deceptive-opinion-spam", "sms-spam-collection"}
    assert "davidson-hate-offensive" in stats["missing"]
    dec = {i.text: i for i in items if i.dataset == "deceptive-opinion-spam"}
    assert all(i.split == "test" for i in dec.values())
    assert dec["Best hotel ever!!! Luxury beyond words."].labels == {"spam_scam": 1}
    assert dec["Clean room, friendly staff."].labels == dict.fromkeys(CATEGORIES, 0)
    assert load_datasets(tmp_path, commercial_only=True)[0].dataset == "sms-spam-collection"


def test_eval_record_rules():
    benign = LabeledText("a", "hi", "en", dict.fromkeys(CATEGORIES, 0), "d", "test", 0)
    toxic = LabeledText("b", "x", "en", {}, "d", "test", 1)
    partial = LabeledText("c", "y", "en", {"hate": 0}, "d", "test", None)
    unknown = LabeledText("d", "z", "en", {}, "d", "test", None)
    recs = [eval_record(x) for x in (benign, toxic, partial)]
    assert [(r or {}).get("labels") for r in recs] == [[], ["any"], []]
    assert [(r or {}).get("known") for r in recs] == [list(CATEGORIES), [], ["hate"]]
    assert eval_record(unknown) is None


# --- real data ------------------------------------------------------------------------------

# Rows per data set as loaded, before split dedupe. Differences from the data README:
# toxigen: the files hold 627 lines (README says 666), 587 distinct; jigsaw test keeps the
# 26 scored rows; youtube has 2 empty comments and one listed twice; memes drop captions
# labelled both ways and dev_unseen's repeats of dev_seen.
RAW_COUNTS = {
    "davidson-hate-offensive": 24_783,
    "tweeteval_hate": 9_000 + 1_000 + 2_970 - 8,  # 8 empty tweets
    "tweeteval_offensive": 11_916 + 1_324 + 860,
    "hatexplain-test-val": 1_922 + 1_924,
    "ethos": 998,
    "toxigen-demonstrations": 587,
    "jigsaw-toxic-sample": 282 + 26,
    "germeval2018": 5_009 + 3_532,
    "mlma-hate-speech": 5_647 + 4_014 + 3_353,
    "korean-hate-speech": 7_896 + 471,
    "l-hsab-arabic": 5_846,
    "sms-spam-collection": 5_574,
    "youtube-spam-collection": 1_953,
    "deceptive-opinion-spam": 1_600,
}


def test_raw_counts_match_readme(raw):
    counts = Counter(i.dataset for i in raw)
    assert set(counts) == set(DATASETS)
    for name, n in RAW_COUNTS.items():
        assert counts[name] == n, name
    # 8,500 train + 640 distinct dev captions, minus captions whose label depends on the image.
    assert 6_000 < counts["fine-grained-hateful-memes-text"] < 9_140


def test_label_counts_match_readme(raw):
    by = _by_dataset(raw)
    dav = Counter(
        "hate" if i.labels.get("hate") == 1 else "offensive" if i.labels.get("profanity") == 1 else "neither"
        for i in by["davidson-hate-offensive"]
    )
    assert dav == {"hate": 1_430, "offensive": 19_190, "neither": 4_163}
    te_test = [i for i in by["tweeteval_hate"] if i.split == "test"]
    assert len(te_test) == 2_970 and sum(i.labels["hate"] for i in te_test) == 1_252
    ge_test = [i for i in by["germeval2018"] if i.split == "test"]
    assert sum(i.labels.get("hate", 0) for i in ge_test) == 773
    assert sum(i.labels.get("harassment", 0) for i in ge_test) == 381
    assert sum(i.labels["spam_scam"] for i in by["sms-spam-collection"]) == 747
    assert sum(i.labels["hate"] for i in by["ethos"]) == 433
    assert sum(i.labels.get("violence", 0) for i in by["ethos"]) == 142
    ko_test = Counter(i.labels["hate"] for i in by["korean-hate-speech"] if i.split == "test")
    assert ko_test == {0: 349, 1: 122}
    assert Counter(i.language for i in by["mlma-hate-speech"]) == {"en": 5_647, "fr": 4_014, "ar": 3_353}


def test_official_splits_respected(raw):
    by = _by_dataset(raw)
    assert {i.split for i in by["deceptive-opinion-spam"]} == {"test"}
    te_off = Counter(i.split for i in by["tweeteval_offensive"])
    assert te_off == {"train": 11_916, "calib": 1_324, "test": 860}
    assert Counter(i.split for i in by["hatexplain-test-val"])["test"] == 1_924
    for name in ("hatexplain-test-val", "jigsaw-toxic-sample", "germeval2018", "korean-hate-speech"):
        # Only the official test file feeds test.
        assert not any(i.split == "test" and ":val:" in i.id for i in by[name])
    shares = Counter(i.split for i in by["davidson-hate-offensive"])
    assert abs(shares["test"] / 24_783 - 0.15) < 0.02


def test_labels_are_valid(raw):
    allowed = set(CATEGORIES)
    for it in raw:
        assert set(it.labels) <= allowed, it.id
        assert set(it.labels.values()) <= {0, 1}, it.id
        assert it.split in {"train", "calib", "test"}
        assert it.text.strip() and it.id.startswith(f"{it.dataset}:")
        assert it.language in DATASETS[it.dataset].languages
        if any(v == 1 for v in it.labels.values()):
            assert it.any_violation == 1, it.id
        if it.any_violation == 0:
            assert it.labels == dict.fromkeys(CATEGORIES, 0), it.id
        # Positives only in covered categories (ETHOS and memes add violence).
        extra = {"violence"} if it.dataset in {"ethos", "fine-grained-hateful-memes-text"} else set()
        assert set(it.positives()) <= set(DATASETS[it.dataset].covers) | extra, it.id
    assert len({it.id for it in raw}) == len(raw)


def test_no_test_leakage(loaded):
    items, stats = loaded
    keys: dict[str, set[str]] = {"train": set(), "calib": set(), "test": set()}
    train_pairs: Counter[tuple[str, str]] = Counter()
    for it in items:
        k = near_duplicate_key(it.text)
        keys[it.split].add(k)
        if it.split == "train":
            train_pairs[(it.dataset, k)] += 1
    assert not keys["test"] & (keys["train"] | keys["calib"])
    assert not keys["calib"] & keys["train"]
    assert max(train_pairs.values()) == 1
    assert stats["dropped_test_overlap"] > 0 and stats["dropped_train_duplicate"] > 0
    assert stats["kept"] == len(items)


def test_splits_are_deterministic(loaded):
    items, _ = loaded
    near_duplicate_key.cache_clear()
    again = load_datasets(DATA_DIR)
    assert [(i.id, i.split) for i in again] == [(i.id, i.split) for i in items]


def test_commercial_only(raw):
    items = load_datasets(DATA_DIR, ["sms-spam-collection", "ethos"], commercial_only=True)
    assert {i.dataset for i in items} == {"sms-spam-collection"}


def test_eval_jsonl_round_trip(loaded, tmp_path):
    items, _ = loaded
    test_items = [i for i in items if i.split == "test"]
    path = tmp_path / "eval.jsonl"
    n = to_eval_jsonl(test_items, path)
    back = read_eval_jsonl(path)
    expected = [r for r in (eval_record(i) for i in test_items) if r is not None]
    assert n == len(back) == len(expected)
    assert back == expected
    assert {tuple(r) for r in back} == {("id", "text", "language", "labels", "known", "dataset", "split")}
    assert any(r["labels"] == ["any"] for r in back)  # jigsaw toxic-only, MLMA fearful-only
    for r in back:
        assert set(r["labels"]) <= set(CATEGORIES) | {"any"}
        assert set(r["labels"]) - {"any"} <= set(r["known"])
    # Byte-level check: plain UTF-8 JSON lines.
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first) == back[0]
