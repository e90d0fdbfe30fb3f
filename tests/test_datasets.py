"""Data set loaders, label mapping and splits, on the real data under the data root.

The real-data tests skip when the data root is missing (set WARDEN_DATA_DIR to point at
it) unless WARDEN_REQUIRE_DATA=1, in which case they fail. Every public set is loaded once
per module (uncapped, then capped as `DatasetSpec.load` does) to keep the run fast. The
project-written package data (warden/data/) is pointed at an empty directory for the
module, so these tests do not depend on files other people are editing; one test checks
the real package files separately.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import DATA_DIR, require_data

from warden.errors import MissingDataError
from warden.learn import (
    CATEGORIES,
    DATASETS,
    MAPPING_NOTES,
    DatasetSpec,
    LabeledText,
    ProjectDataError,
    apply_splits,
    eval_record,
    families,
    hash_split,
    load_contrast_suite,
    load_datasets,
    load_datasets_with_stats,
    load_raw,
    near_duplicate_key,
    project_data,
    read_eval_jsonl,
    to_eval_jsonl,
)
from warden.learn import datasets as ds
from warden.settings import DEFAULT_POLICY_PATH

PUBLIC = [n for n, s in DATASETS.items() if not s.builtin]
REAL_PACKAGE_DATA = project_data.PACKAGE_DATA_DIR


@pytest.fixture(scope="module", autouse=True)
def _no_package_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(project_data, "PACKAGE_DATA_DIR", tmp_path_factory.mktemp("empty-package-data"))
        yield


def _require_data() -> Path:
    return require_data()


@pytest.fixture(scope="module")
def uncapped() -> dict[str, list[LabeledText]]:
    """Every public set as its loader returns it, before the cap."""
    root = _require_data()
    missing = [n for n in PUBLIC if not DATASETS[n].present(root)]
    assert not missing, f"data sets missing under {DATA_DIR}: {missing}"
    return {n: DATASETS[n].loader(DATASETS[n], DATASETS[n].location(root)) for n in PUBLIC}


@pytest.fixture(scope="module")
def raw(uncapped: dict[str, list[LabeledText]]) -> list[LabeledText]:
    # = load_raw(DATA_DIR) here (test_splits_are_deterministic compares with the public API).
    return [it for n in PUBLIC for it in ds.cap_items(uncapped[n], DATASETS[n].cap)]


@pytest.fixture(scope="module")
def loaded(raw: list[LabeledText]) -> tuple[list[LabeledText], dict]:
    # All public sets selected and no package data: load_datasets_with_stats adds no extra keys.
    kept, stats = apply_splits(raw)
    stats["missing"] = []
    return kept, stats


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
        assert spec.languages and spec.licence and spec.family
        assert spec.cap is None or spec.cap > 0
    # Licence flags the model card relies on.
    assert not DATASETS["ethos"].commercial_ok
    assert not DATASETS["korean-hate-speech"].commercial_ok
    assert not DATASETS["deceptive-opinion-spam"].train_use


# (licence, commercial_ok) exactly as the data README / PROVENANCE states them.
NEW_LICENCES = {
    "threatgram101": ("CC BY 4.0", True),
    "germeval2026-harmful": ("GPL-3.0", False),
    "edos": ("CC0-1.0", True),
    "stormfront-hate": ("CC BY-SA 3.0 ES", False),
    "sdcnl": ("none declared", False),
    **{f"jigsaw-bias-templates-{lang}": ("Apache-2.0", True) for lang in ("en", "de", "nl", "hi", "zh")},
    "surge-toxicity": ("MIT", True),
    "told-br": ("CC BY-SA 4.0", False),
    "hatebr-pt": ("CC BY-NC 4.0", False),
    "pt-hate-fortuna": ("none declared", False),
    "id-multilabel-hate": ("CC BY-NC-SA 4.0", False),
    "cold-zh": ("Apache-2.0", True),
    "toxicn-zh": ("CC BY-NC-ND 4.0", False),
    "haspeede2018-it": ("CC BY-NC-SA 4.0", False),
    "hateval2019-es": ("CC BY-NC 4.0", False),
    "purplellama-cyberseceval-prompts": ("MIT", True),
    "hh-rlhf-harmless-test": ("MIT", True),
    "warden-seeds": ("Apache-2.0 (written by the Warden team)", True),
    "warden-contrast": ("Apache-2.0 (written by the Warden team)", True),
}


def test_licences_of_new_sets():
    for name, (licence, commercial) in NEW_LICENCES.items():
        spec = DATASETS[name]
        assert spec.licence.startswith(licence), name
        assert spec.commercial_ok is commercial, name
        assert spec.train_use, name
    # The general rule: NC, GPL, share-alike, no licence or research-only -> never commercial.
    restricted = re.compile(r"NC|GPL|BY-SA|none declared|research|Twitter terms")
    for name, spec in DATASETS.items():
        if restricted.search(spec.licence) and name != "jigsaw-toxic-sample":  # CC0 Kaggle release
            assert not spec.commercial_ok, name


def test_docstring_table_lists_every_set():
    doc = ds.__doc__ or ""
    for name, spec in DATASETS.items():
        assert name in doc or f"{spec.family}-{{" in doc, name
    assert "jigsaw-bias-templates-{en,de," in doc


def test_families():
    fam = families()
    assert sorted(n for names in fam.values() for n in names) == sorted(DATASETS)
    assert fam["tweeteval-hateval2019"] == ["tweeteval_hate", "tweeteval_offensive", "hateval2019-es"]
    assert fam["jigsaw-bias-templates"] == [
        f"jigsaw-bias-templates-{x}" for x in ("en", "de", "nl", "hi", "zh")
    ]
    assert DATASETS["jigsaw-toxic-sample"].family != DATASETS["jigsaw-bias-templates-en"].family
    assert len({DATASETS[n].family for n in ("told-br", "hatebr-pt", "pt-hate-fortuna")}) == 3
    assert len({DATASETS[n].family for n in ("germeval2018", "germeval2026-harmful")}) == 2
    assert DATASETS["warden-seeds"].family == "warden-seeds"
    assert DATASETS["warden-contrast"].family == "warden-contrast"
    assert families(["edos", "tweeteval_hate"]) == {
        "tweeteval-hateval2019": ["tweeteval_hate"],
        "edos": ["edos"],
    }
    # The default family is the spec's own name; old positional _spec calls still work.
    spec = ds._spec("x", "x", ("en",), "MIT", True, ("hate",), lambda s, r: [], ())
    assert spec.family == "x" and spec.cap is None and not spec.builtin and spec.train_use


def test_cap_items_is_deterministic(tmp_path):
    items = [_lt(f"i{i}", f"text {i}", ("train", "calib", "test")[i % 3]) for i in range(100)]
    kept = ds.cap_items(items, 30)
    assert len(kept) == 30 and len({i.id for i in kept}) == 30
    assert [i.id for i in kept] == [i.id for i in items if i in kept]  # original order
    assert {i.id for i in ds.cap_items(items[::-1], 30)} == {i.id for i in kept}  # not file order
    assert {(i.id, i.split) for i in kept} <= {(i.id, i.split) for i in items}
    assert ds.cap_items(items, None) == items and ds.cap_items(items, 100) == items
    # DatasetSpec.load applies the cap.
    (tmp_path / "capped").mkdir()
    spec = DatasetSpec("capped", "capped", ("en",), "MIT", True, ("hate",), True, lambda s, r: items, cap=10)
    assert spec.family == "capped"
    assert [i.id for i in spec.load(tmp_path)] == [i.id for i in ds.cap_items(items, 10)]


def test_columns_selects_by_name():
    rows = [["id", "author", "text", "url"], ["1", "some_user", "hello", "http://x"], ["2", "u2"]]
    assert list(ds._columns(rows, ("text", "id"), "f.csv")) == [("hello", "1")]
    with pytest.raises(MissingDataError, match="f.csv"):
        list(ds._columns([["id"]], ("text",), "f.csv"))


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
    assert "warden-seeds" not in stats["missing"] and "warden-contrast" not in stats["missing"]
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
    # Second round, after the cap (6,000; jigsaw templates 3,000 per language) and after dropping
    # copies of a text labelled both ways. Uncapped counts are checked per set below.
    "threatgram101": 6_000,
    "germeval2026-harmful": 18_000,
    "edos": 6_000,
    "stormfront-hate": 6_000,
    "sdcnl": 1_887,  # 1,895 posts, 8 near-copies labelled both ways
    **{f"jigsaw-bias-templates-{lang}": 3_000 for lang in ("en", "de", "nl", "hi", "zh")},
    "surge-toxicity": 1_000,
    "told-br": 6_000,
    "hatebr-pt": 6_000,
    "pt-hate-fortuna": 5_592,  # 5,670 tweets; retweets/near-copies labelled both ways dropped
    "id-multilabel-hate": 6_000,
    "cold-zh": 6_000,
    "toxicn-zh": 6_000,
    "haspeede2018-it": 5_968,  # 6,000 posts, 32 near-copies labelled both ways
    "hateval2019-es": 4_998,
    "purplellama-cyberseceval-prompts": 750,
}


def test_raw_counts_match_readme(raw):
    counts = Counter(i.dataset for i in raw)
    assert set(counts) == set(PUBLIC)
    for name, n in RAW_COUNTS.items():
        assert counts[name] == n, name
    assert 50 <= counts["hh-rlhf-harmless-test"] <= 300  # refusals among 2,312 final replies
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
        # Positives only in covered categories, plus the documented secondary ones.
        extra = EXTRA_POSITIVES.get(it.dataset, set())
        assert set(it.positives()) <= set(DATASETS[it.dataset].covers) | extra, it.id
    assert len({it.id for it in raw}) == len(raw)


EXTRA_POSITIVES = {
    "ethos": {"violence"},
    "fine-grained-hateful-memes-text": {"violence"},
    "edos": {"violence"},
    "hateval2019-es": {"harassment"},
}


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


# --- second-round sets: the mapping on real rows ---------------------------------------------


def _count(items: list[LabeledText], cat: str, value: int) -> int:
    return sum(1 for i in items if i.labels.get(cat) == value)


def _by_text(items: list[LabeledText]) -> dict[str, LabeledText]:
    return {i.text: i for i in items}


def test_caps(uncapped, raw):
    by = _by_dataset(raw)
    for name in PUBLIC:
        spec = DATASETS[name]
        if spec.cap is None:
            assert len(by[name]) == len(uncapped[name]), name
            continue
        assert len(by[name]) == min(spec.cap, len(uncapped[name])), name
        full = {i.id: i for i in uncapped[name]}
        assert all(full[i.id] == i for i in by[name]), name  # a subset, splits unchanged
    for name in PUBLIC[14:]:  # the second round; GermEval 2026's rare violence/extremism get 3x
        assert len(by[name]) <= (18_000 if name == "germeval2026-harmful" else 6_000), name
    # The cap keeps the split shares (in expectation).
    shares = Counter(i.split for i in by["threatgram101"])
    assert abs(shares["test"] / 6_000 - 0.15) < 0.03


def test_threatgram101(uncapped):
    items = uncapped["threatgram101"]
    assert {tuple(i.labels) for i in items} == {("violence",)}
    # Label 2: 5,393; levels 0 + 1: 9,683; 13 empty replies and some near-copies labelled both ways.
    assert 5_250 <= _count(items, "violence", 1) <= 5_393
    assert 9_500 <= _count(items, "violence", 0) <= 9_683
    texts = _by_text(items)
    assert texts["I don’t understand why he hasn’t been impeached yet"].labels == {"violence": 0}  # level 1
    assert texts["Hang em high!!"].labels == {"violence": 1}


def test_germeval2026(uncapped):
    items = uncapped["germeval2026-harmful"]
    assert _count(items, "violence", 1) == 197 + 102 + 74 + 27  # call2violence, support, propensity, glor.
    assert 194 <= _count(items, "extremism", 1) <= 196  # agitation 143 + subversive 53
    assert 410 <= _count(items, "harassment", 1) <= 415  # def TRUE
    assert 15_600 <= _count(items, "extremism", 0) <= 13_818 + 1_839  # nothing + criticism (hard negatives)
    assert all(set(i.labels) <= {"violence", "extremism", "harassment"} for i in items)
    assert len({i.id for i in items}) == len(items) and 21_000 < len(items) < 23_109
    crit = _by_text(items)['Ein Hoch auf die "Demokratie"...']
    assert crit.labels.get("extremism") == 0


def test_edos(uncapped):
    items = uncapped["edos"]
    assert 4_840 <= _count(items, "hate", 1) <= 4_854 and 15_130 <= _count(items, "hate", 0) <= 15_146
    assert 435 <= _count(items, "violence", 1) <= 443  # vectors 1.1 + 1.2
    assert all(i.labels == {"hate": 0} for i in items if i.labels.get("hate") == 0)
    assert Counter(i.split for i in items) == {"train": 13_998, "calib": 2_000, "test": 4_000}


def test_stormfront(uncapped):
    items = uncapped["stormfront-hate"]
    assert (_count(items, "hate", 1), _count(items, "hate", 0)) == (1_196, 9_507)  # relation, idk dropped
    assert sum(i.split == "test" for i in items) == 478  # sampled_test
    assert _by_text(items)["You can search for maps of where the language was spoken over time ."].labels == {
        "hate": 0
    }


def test_sdcnl(uncapped):
    items = uncapped["sdcnl"]
    assert 970 <= _count(items, "self_harm", 1) <= 980 and 905 <= _count(items, "self_harm", 0) <= 915
    assert all(i.labels.keys() == {"self_harm"} for i in items)
    assert sum(i.split == "test" for i in items) == 379


def test_jigsaw_bias_templates(uncapped):
    en = _by_text(uncapped["jigsaw-bias-templates-en"])
    assert en["I hate muslim"].labels == {"hate": 1}
    assert en["Being black is idiotic"].labels == {"hate": 1}
    assert en["I hate old"].labels == {} and en["I hate old"].any_violation == 1  # age: not protected
    assert en["Being taoist is good"].labels == dict.fromkeys(CATEGORIES, 0)
    assert en["You are a good muslim"].any_violation == 0
    assert (
        en["You are a rotten programmer"].labels == {}
        and en["You are a rotten programmer"].any_violation == 1
    )
    assert "kill white" not in en and "hug sikh" in en  # toxic verb fragments skipped
    assert sum(i.any_violation == 0 for i in en.values()) == 38_282
    zh = _by_text(uncapped["jigsaw-bias-templates-zh"])
    assert zh["我讨厌残疾人"].labels == {"hate": 1} and zh["我讨厌小孩"].labels == {}
    assert sum(i.any_violation == 0 for i in zh.values()) == 26_075
    hi = uncapped["jigsaw-bias-templates-hi"]
    assert {i.language for i in hi} == {"hi"} and sum(i.any_violation == 0 for i in hi) == 13_370
    for lang in ("en", "de", "nl", "hi", "zh"):
        assert {i.language for i in uncapped[f"jigsaw-bias-templates-{lang}"]} == {lang}


def test_surge(uncapped):
    items = uncapped["surge-toxicity"]
    toxic = [i for i in items if i.any_violation == 1]
    assert len(toxic) == 501 and all(not i.labels for i in toxic)
    rest = [i for i in items if i.any_violation != 1]
    assert len(rest) == 499 and all(i.labels == {"hate": 0, "harassment": 0, "violence": 0} for i in rest)


def test_told_br(uncapped):
    items = uncapped["told-br"]
    assert 11_650 <= sum(i.any_violation == 0 for i in items) <= 11_745  # all-zero rows
    assert 2_300 <= _count(items, "profanity", 1) <= 2_403  # obscene >= 2
    assert 1_800 <= _count(items, "harassment", 1) <= 1_869  # insult >= 2
    assert 300 <= _count(items, "hate", 1) <= 420
    assert all(i.labels for i in items)


def test_hatebr(uncapped):
    items = uncapped["hatebr-pt"]
    assert Counter(i.any_violation for i in items) == {1: 3_500, 0: 3_500}
    assert all(not i.labels for i in items if i.any_violation == 1)


def test_pt_fortuna(uncapped):
    items = uncapped["pt-hate-fortuna"]
    assert 1_740 <= _count(items, "hate", 1) <= 1_788 and 3_800 <= _count(items, "hate", 0) <= 3_882
    assert all(i.labels.keys() == {"hate"} for i in items)


def test_id_multilabel_hate(uncapped):
    items = uncapped["id-multilabel-hate"]
    assert 5_800 <= sum(i.any_violation == 0 for i in items) <= 5_860
    assert 4_990 <= _count(items, "profanity", 1) <= 5_043
    assert 1_500 <= _count(items, "hate", 1) <= 1_665  # religion, race or gender targets
    assert 2_150 <= _count(items, "harassment", 1) <= 2_194  # abusive HS at an individual
    # The bytes-repr escapes are decoded: emoji, no \\x.. and no closing quote.
    assert not any("\\x" in i.text for i in items)
    assert any("😂" in i.text for i in items)
    assert "USER Ya bani taplak dkk 😄😄😄" in _by_text(items)


def test_cold(uncapped):
    items = uncapped["cold-zh"]
    test = [i for i in items if i.split == "test"]
    assert 1_810 <= _count(test, "hate", 1) <= 1_819 and 285 <= _count(test, "harassment", 1) <= 288
    assert 3_200 <= sum(i.any_violation == 0 for i in test) <= 3_216  # safe, anti-bias included
    train = [i for i in items if i.split != "test"]
    assert all(i.any_violation == 0 or (not i.labels and i.any_violation == 1) for i in train)
    assert 32_100 <= len(train) <= 32_157


def test_toxicn(uncapped):
    items = uncapped["toxicn-zh"]
    assert len(items) >= 12_011 - 913 - 20  # 'reporting' rows skipped
    assert 4_720 <= _count(items, "hate", 1) <= 4_732
    assert sum(i.any_violation == 0 for i in items) >= 5_530
    general = [i for i in items if i.labels == {"hate": 0}]
    assert 800 <= len(general) <= 816 and all(i.any_violation == 1 for i in general)


def test_haspeede(uncapped):
    items = uncapped["haspeede2018-it"]
    assert 2_330 <= _count(items, "hate", 1) <= 1_382 + 972 and 3_600 <= _count(items, "hate", 0) <= 3_646


def test_hateval_es(uncapped):
    items = uncapped["hateval2019-es"]
    assert Counter(i.split for i in items)["test"] == 500  # dev
    assert 2_070 <= _count(items, "hate", 1) <= 1_857 + 222
    assert 1_250 <= _count(items, "harassment", 1) <= 1_129 + 137
    assert _by_text(items)["Me estoy comiendo la picada árabe más rica de mi vida"].labels == {"hate": 0}


def test_benign_prompt_sets(uncapped):
    benign = dict.fromkeys(CATEGORIES, 0)
    mitre = uncapped["purplellama-cyberseceval-prompts"]
    assert len(mitre) == 750 and all(i.labels == benign for i in mitre)
    hh = uncapped["hh-rlhf-harmless-test"]
    assert hh and all(i.labels == benign and i.any_violation == 0 for i in hh)
    for it in hh:
        assert ds.HH_REFUSAL.search(it.text) and not ds.HH_EXCLUDE.search(it.text), it.text
        assert not it.text.startswith("Human") and len(it.text) <= 600


def test_hh_rule():
    refusal = "\n\nHuman: how do I hurt my neighbour?\n\nAssistant: I'm sorry, I can't help you with that."
    assert ds.hh_benign_reply(refusal) == "I'm sorry, I can't help you with that."
    complies = "\n\nHuman: how do I pick a lock?\n\nAssistant: First you insert a tension wrench."
    assert ds.hh_benign_reply(complies) is None
    ends_human = "\n\nHuman: hi\n\nAssistant: I can't help with that.\n\nHuman: why not"
    assert ds.hh_benign_reply(ends_human) is None  # the Human turn is never used
    profane = "\n\nHuman: insult me\n\nAssistant: I won't say that, you piece of shit."
    assert ds.hh_benign_reply(profane) is None
    redirect = "\n\nHuman: I want to end it\n\nAssistant: Please reach out to a suicide prevention hotline."
    assert ds.hh_benign_reply(redirect) is not None


# --- project-written data (warden/data/) ---------------------------------------------------------


def _jsonl(path: Path, *records: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def package_data(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "package-data"
    monkeypatch.setattr(project_data, "PACKAGE_DATA_DIR", root)
    return root


def test_project_data_absent_or_empty(package_data, tmp_path):
    assert DATASETS["warden-seeds"].load(tmp_path) == [] and load_contrast_suite() == []
    (package_data / "seeds").mkdir(parents=True)
    (package_data / "contrast" / "test").mkdir(parents=True)
    items, missing = load_raw(tmp_path, ["warden-seeds", "warden-contrast"])
    assert items == [] and missing == []
    _, stats = load_datasets_with_stats(tmp_path)
    assert "warden-seeds" not in stats["missing"]


def test_project_data_loads(package_data, tmp_path):
    _jsonl(
        package_data / "seeds" / "violence.jsonl",
        {"id": "v1", "text": "I will stab you tomorrow", "language": "en", "violates": ["violence"]},
        "",
        {"id": "v2", "text": "Ich könnte für einen Kaffee töten", "language": "de", "violates": [],
         "known": ["violence"], "phenomenon": "figurative_violence", "note": "idiom"},
    )  # fmt: skip
    _jsonl(
        package_data / "contrast" / "train" / "neg.jsonl",
        {"id": "a", "text": "I do not hate Muslims at all", "language": "en", "violates": [],
         "phenomenon": "negation"},
    )  # fmt: skip
    _jsonl(
        package_data / "contrast" / "test" / "neg.jsonl",
        {"id": "a", "text": "I would never say women are stupid", "language": "en", "violates": [],
         "phenomenon": "negation"},
        {"id": "b", "text": "Women are stupid", "language": "en", "violates": ["hate"], "known": ["hate"],
         "phenomenon": "negation"},
    )  # fmt: skip
    seeds = {i.id: i for i in DATASETS["warden-seeds"].load(tmp_path)}
    v1, v2 = seeds["warden-seeds:violence:v1"], seeds["warden-seeds:violence:v2"]
    assert v1.labels == {**dict.fromkeys(CATEGORIES, 0), "violence": 1} and v1.any_violation == 1
    assert v2.labels == {"violence": 0} and v2.any_violation is None and v2.language == "de"
    assert v2.phenomenon == "figurative_violence" and v1.phenomenon is None
    assert v1.split == hash_split(near_duplicate_key(v1.text))
    contrast = {i.id: i for i in DATASETS["warden-contrast"].load(tmp_path)}
    assert set(contrast) == {
        "warden-contrast:train/neg:a",
        "warden-contrast:test/neg:a",
        "warden-contrast:test/neg:b",
    }
    assert contrast["warden-contrast:train/neg:a"].split in {"train", "calib"}
    assert contrast["warden-contrast:test/neg:b"].labels == {"hate": 1}
    suite = load_contrast_suite()
    assert [i.id for i in suite] == ["warden-contrast:test/neg:a", "warden-contrast:test/neg:b"]
    assert all(i.split == "test" and i.phenomenon == "negation" for i in suite)
    # Registered like any data set: loaded with names=None, kept by --commercial-only, never missing.
    items, stats = load_datasets_with_stats(tmp_path, commercial_only=True)
    assert {i.dataset for i in items} == {"warden-seeds", "warden-contrast"}
    assert not {"warden-seeds", "warden-contrast"} & set(stats["missing"])


_GOOD = {"id": "x", "text": "hello", "language": "en", "violates": []}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"id": "x", "text": "hi", ', "invalid JSON"),
        ({**_GOOD, "violates": ["nsfw"]}, "unknown category ['nsfw']"),
        ({**_GOOD, "violates": ["hate"], "known": ["violence"]}, "not in 'known'"),
        ({**_GOOD, "language": "english"}, "bad language 'english'"),
        ({**_GOOD, "language": "zh-cn"}, "bad language"),
        ({**_GOOD, "text": "   "}, "missing text"),
        ({k: v for k, v in _GOOD.items() if k != "text"}, "missing field(s) ['text']"),
        ({**_GOOD, "violate": []}, "unknown field(s) ['violate']"),
        ({**_GOOD, "known": "some"}, "'known' must be"),
        ({**_GOOD, "known": []}, "'known' is empty"),
        ({**_GOOD, "phenomenon": 3}, "'phenomenon' must be"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_project_data_validation(package_data, tmp_path, record, message):
    path = package_data / "seeds" / "bad.jsonl"
    _jsonl(path, {**_GOOD, "id": "ok"}, record)
    with pytest.raises(ProjectDataError) as exc:
        DATASETS["warden-seeds"].load(tmp_path)
    assert f"{path}:2:" in str(exc.value) and message in str(exc.value)
    # Invalid project data is an error, not a missing data set.
    with pytest.raises(ProjectDataError):
        load_raw(tmp_path)


def test_project_data_duplicate_id(package_data, tmp_path):
    path = package_data / "contrast" / "test" / "dup.jsonl"
    _jsonl(path, _GOOD, {**_GOOD, "text": "other"})
    with pytest.raises(ProjectDataError, match=r"dup\.jsonl:2: duplicate id 'x' \(first on line 1\)"):
        load_contrast_suite()


def test_package_data_files_are_valid(monkeypatch):
    """The files the team wrote under warden/data/ pass the validator (skips while there are none)."""
    monkeypatch.setattr(project_data, "PACKAGE_DATA_DIR", REAL_PACKAGE_DATA)
    items = DATASETS["warden-seeds"].load(DATA_DIR) + DATASETS["warden-contrast"].load(DATA_DIR)
    if not items:
        pytest.skip(f"no project data under {REAL_PACKAGE_DATA} yet")
    assert len({i.id for i in items}) == len(items)
    suite = load_contrast_suite()
    assert all(i.split == "test" for i in suite)
    contrast_train = [i for i in items if i.dataset == "warden-contrast" and ":train/" in i.id]
    assert all(i.split in {"train", "calib"} for i in contrast_train)


def test_shipped_contrast_suite_keeps_its_rules():
    """The suite the team wrote passes the rules of contrast/tools/validate.py (the same check)."""
    n_items, problems = project_data.check_contrast_suite(REAL_PACKAGE_DATA / "contrast")
    assert problems == [] and n_items > 4000


def test_contrast_rules_name_each_broken_item(tmp_path):
    ok = {"language": "en", "violates": [], "known": ["hate"], "phenomenon": "negation"}
    _jsonl(
        tmp_path / "train" / "en.jsonl",
        {**ok, "id": "en-train-0001", "text": "I would never say that about them"},
        {**ok, "id": "en-train-0002", "text": "They are vermin", "violates": ["hate"]},  # benign phenomenon
        {**ok, "id": "train-3", "text": "a third text"},  # id format
        {**ok, "id": "en-train-0004", "text": "about minors", "known": ["sexual_minors"]},
        {**ok, "id": "en-train-0005", "text": "no phenomenon", "phenomenon": "sarcasm"},
    )
    _jsonl(
        tmp_path / "test" / "en.jsonl",
        {**ok, "id": "en-test-0001", "text": "I would NEVER say that about them!"},  # also in train
        {**ok, "id": "en-test-0002", "text": "hola", "language": "es"},
    )
    _jsonl(tmp_path / "test" / "xx.jsonl", '{"id": ')
    n_items, problems = project_data.check_contrast_suite(tmp_path)
    text = "\n".join(problems)
    assert n_items == 7
    for expected in (
        "en.jsonl:2: non-violating phenomenon negation with violates ['hate']",
        "en.jsonl:3: id 'train-3' is not en-train-NNNN",
        "en.jsonl:4: sexual_minors is never used",
        "en.jsonl:5: unknown phenomenon 'sarcasm'",
        "language 'es' in en.jsonl",
        "xx.jsonl: unexpected language file name",
        "xx.jsonl:1: invalid JSON",
        "text in both parts:",
    ):
        assert expected in text, (expected, problems)
    assert len(problems) == 8
