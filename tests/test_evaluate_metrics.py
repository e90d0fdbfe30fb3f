"""Evaluation: metrics against hand-computed values and sklearn, data parsing, slices, report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from warden.decision import CategoryScore, Decision, Versions
from warden.evaluate import LabelledDataError, LabelledItem, read_labelled, run_evaluation
from warden.evaluate.metrics import (
    average_precision,
    binary_metrics,
    expected_calibration_error,
    pr_curve,
    reliability_bins,
    roc_auc,
    wilson_interval,
)
from warden.evaluate.runner import EvalArrays, evaluate_arrays
from warden.evaluate.slices import identity_groups, slice_metrics

CATS = ["hate", "violence", "spam_scam"]


# --- metrics -------------------------------------------------------------------------------


def test_binary_metrics_hand_computed() -> None:
    # Sorted by score: .9 (pos), .8 (neg), .3 (pos), .1 (neg); top two flagged.
    m = binary_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 1)
    assert (m["support_pos"], m["support_neg"], m["n"]) == (2, 2, 4)
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5 and m["fpr"] == 0.5
    # AP = ΔR·P summed: 0.5·1 + 0·0.5 + 0.5·(2/3) + 0·0.5
    assert m["pr_auc"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    # 3 of 4 (pos, neg) pairs ranked correctly.
    assert m["roc_auc"] == pytest.approx(0.75)
    # Each score alone in its bin: (|1-.9| + |0-.8| + |1-.3| + |0-.1|) / 4
    assert m["ece"] == pytest.approx(1.7 / 4)
    assert m["brier"] == pytest.approx((0.01 + 0.64 + 0.49 + 0.01) / 4)


def test_binary_metrics_more_hand_values() -> None:
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    flagged = [1, 1, 0, 1, 0, 0, 0, 0]
    scores = [0.9, 0.7, 0.2, 0.8, 0.1, 0.1, 0.3, 0.05]
    m = binary_metrics(y, scores, flagged)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["fpr"] == pytest.approx(1 / 5)
    assert m["flag_rate"] == pytest.approx(3 / 8)


def test_undefined_ratios_are_none_not_zero() -> None:
    m = binary_metrics([1, 0, 0], [0.2, 0.1, 0.3], [0, 0, 0])
    assert m["precision"] is None and m["f1"] is None and m["recall"] == 0.0 and m["fpr"] == 0.0
    one_class = binary_metrics([0, 0, 0], [0.2, 0.1, 0.3], [1, 0, 0])
    assert one_class["roc_auc"] is None and one_class["pr_auc"] is None and one_class["recall"] is None
    assert one_class["precision"] == 0.0 and one_class["fpr"] == pytest.approx(1 / 3)
    # Flags but no hits: precision and recall are measured zeros, so F1 is 0 rather than undefined.
    assert binary_metrics([1, 0], [0.1, 0.9], [0, 1])["f1"] == 0.0
    empty = binary_metrics([], [], [])
    assert empty["n"] == 0 and empty["ece"] is None and empty["roc_auc"] is None


def test_binary_metrics_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length|differ in length"):
        binary_metrics([1, 0], [0.5], [1, 0])
    with pytest.raises(ValueError, match="finite"):
        binary_metrics([1, 0], [0.5, float("nan")], [1, 0])
    with pytest.raises(ValueError, match="0/1"):
        binary_metrics([2, 0], [0.5, 0.1], [1, 0])


def test_aucs_match_sklearn_including_ties() -> None:
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(100):
        n = int(rng.integers(2, 80))
        y = rng.integers(0, 2, n).astype(bool)
        scores = np.round(rng.random(n), 1)  # rounding creates many ties
        if y.all() or not y.any():
            continue
        assert average_precision(y, scores) == pytest.approx(average_precision_score(y, scores), abs=1e-12)
        assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        checked += 1
    assert checked > 50


def test_pr_curve_matches_sklearn_points() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200).astype(bool)
    scores = np.round(rng.random(200), 2)
    precision, recall, thresholds = pr_curve(y, scores)
    sk_p, sk_r, sk_t = precision_recall_curve(y, scores)
    # sklearn lists thresholds ascending and appends the (recall 0, precision 1) end point.
    np.testing.assert_allclose(precision, sk_p[:-1][::-1])
    np.testing.assert_allclose(recall, sk_r[:-1][::-1])
    np.testing.assert_allclose(thresholds, sk_t[::-1])


def test_ece_small_for_calibrated_large_for_miscalibrated() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    calibrated = rng.random(p.size) < p
    overconfident = rng.random(p.size) < p**3  # true rate far below the stated probability
    good, bad = expected_calibration_error(calibrated, p), expected_calibration_error(overconfident, p)
    assert good is not None and good < 0.02
    assert bad is not None and bad > 0.15
    assert binary_metrics(calibrated, p, p > 0.5)["ece"] < 0.02


def test_ece_only_for_probabilities() -> None:
    m = binary_metrics([1, 0], [3.2, -1.0], [1, 0])  # raw margins, not probabilities
    assert m["ece"] is None and m["brier"] is None and m["roc_auc"] == 1.0


def test_reliability_bins_edges() -> None:
    bins = reliability_bins([1, 0, 1], [0.0, 1.0, 1 / 15], n_bins=15)
    assert len(bins) == 15
    assert (
        bins[0]["count"] == 1 and bins[1]["count"] == 1 and bins[14]["count"] == 1
    )  # 1.0 lands in the last bin
    assert bins[14]["fraction_positive"] == 0.0 and bins[5]["mean_predicted"] is None


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(0, 10) or (None, None)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(5, 10) or (None, None)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 0) is None


# --- reading labelled data -------------------------------------------------------------------


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_read_jsonl(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "text": "hello", "labels": []},
        {"id": "b", "text": "bad", "labels": ["hate"], "language": "de"},
        {"id": "c", "text": "toxic somehow", "labels": ["any"]},
        {"id": "d", "text": "partly labelled", "labels": ["violence"], "known": ["violence", "hate"]},
        {"id": 5, "text": "int id", "labels": ["any", "spam_scam"], "metadata": {"src": "x"}},
    ]
    path = _write(tmp_path, "data.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    items = read_labelled(path, CATS)
    assert [i.id for i in items] == ["a", "b", "c", "d", "5"]
    a, b, c, d, e = items
    assert a.labels == set() and a.known is None and not a.violating and a.is_known("hate")
    assert b.labels == {"hate"} and b.language == "de" and b.known is None
    # "any": violating overall, unknown in every category.
    assert c.violating and c.known == set() and not any(c.is_known(cat) for cat in CATS)
    assert d.known == {"violence", "hate"} and not d.is_known("spam_scam")
    # "any" plus a named category: the named one is known, the rest are not.
    assert e.known == {"spam_scam"} and e.violating
    assert a.to_content().id == "a"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"id": "x", "labels": []}', "missing 'text'"),
        ('{"id": "x", "text": 3, "labels": []}', "'text' must be a string"),
        ('{"id": "x", "text": "t", "labels": ["nudity"]}', "unknown label(s) nudity"),
        ('{"id": "x", "text": "t"}', "missing 'labels'"),
        ('{"id": "x", "text": "t", "labels": "hate"}', "'labels' must be a list"),
        ('{"id": "x", "text": "t", "labels": [], "knwon": []}', "unknown key(s) knwon"),
        ('{"id": "x", "text": "t", "labels": ["hate"], "known": ["violence"]}', "not listed in 'known'"),
        ('{"id": "x", "text": "t", "labels": [], "known": ["nope"]}', "not in the policy: nope"),
        ('{"id": "x", "text": "\\ud800", "labels": []}', "surrogate"),
        ('{"id": "", "text": "t", "labels": []}', "id must have"),
        ('["x"]', "expected a JSON object"),
    ],
)
def test_read_jsonl_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, "bad.jsonl", '{"id": "ok", "text": "fine", "labels": []}\n' + line + "\n")
    with pytest.raises(LabelledDataError) as info:
        read_labelled(path, CATS)
    assert f"{path}:2:" in str(info.value)
    assert message in str(info.value)


def test_read_jsonl_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    rows = ['{"id": "x", "text": "a", "labels": []}', "", '{"id": "x", "text": "b", "labels": []}']
    path = _write(tmp_path, "dup.jsonl", "\n".join(rows))
    with pytest.raises(LabelledDataError, match=r"dup\.jsonl:3: duplicate id 'x' \(first on line 1\)"):
        read_labelled(path, CATS)


def test_read_jsonl_reports_several_problems(tmp_path: Path) -> None:
    path = _write(tmp_path, "many.jsonl", "{bad\n{bad\n")
    with pytest.raises(LabelledDataError) as info:
        read_labelled(path, CATS)
    assert (
        len(info.value.problems) == 2
        and "many.jsonl:1:" in str(info.value)
        and "many.jsonl:2:" in str(info.value)
    )


def test_read_invalid_utf8_names_line(tmp_path: Path) -> None:
    data = b'{"id": "a", "text": "ok", "labels": []}\n{"id": "b", "text": "\xff\xfe", "labels": []}\n'
    path = _write(tmp_path, "enc.jsonl", data)
    with pytest.raises(LabelledDataError, match=r"enc\.jsonl:2: invalid UTF-8"):
        read_labelled(path, CATS)
    csv_path = _write(tmp_path, "enc.csv", b"id,text,hate\na,ok,0\nb,caf\xe9,1\n")
    with pytest.raises(LabelledDataError, match=r"enc\.csv:3: invalid UTF-8"):
        read_labelled(csv_path, CATS)


def test_read_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(LabelledDataError, match="no items"):
        read_labelled(_write(tmp_path, "empty.jsonl", "\n"), CATS)
    with pytest.raises(LabelledDataError, match="file not found"):
        read_labelled(tmp_path / "nope.jsonl", CATS)


def test_read_csv(tmp_path: Path) -> None:
    content = (
        "\ufeffid,text,language,hate,violence,spam_scam,any\n"
        "a,hello,en,0,0,0,0\n"
        'b,"multi\nline, quoted",,1,0,,0\n'
        "c,vague,,0,0,0,1\n"
        "d,all known,de,0,1,0,\n"
    )
    items = read_labelled(_write(tmp_path, "data.csv", content), CATS)
    a, b, c, d = items
    assert a.labels == set() and a.known is None and a.language == "en"
    assert b.text == "multi\nline, quoted" and b.labels == {"hate"} and b.known == {"hate", "violence"}
    assert b.language is None
    assert c.labels == {"any"} and c.known == set()  # with any=1 the 0 cells are not trusted
    assert d.labels == {"violence"} and d.known is None


def test_read_csv_missing_category_column_is_unknown(tmp_path: Path) -> None:
    items = read_labelled(_write(tmp_path, "d.csv", "id,text,hate\na,x,1\n"), CATS)
    assert items[0].known == {"hate"} and items[0].labels == {"hate"}


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        ("id,text,hate\na,x,1\nb,y,2\n", 3, "must be 0, 1 or empty"),
        ("id,text,nudity\na,x,1\n", 1, "nudity"),
        ("id,hate\na,1\n", 1, "missing column 'text'"),
        ("id,text,hate\na,x,1\nb,y\n", 3, "expected 3 fields"),
        ('id,text,hate\na,"two\nlines",1\na,y,0\n', 4, "duplicate id 'a' (first on line 2)"),
        ("id,text,hate,hate\na,x,1,1\n", 1, "duplicate column"),
    ],
)
def test_read_csv_errors_name_file_and_line(tmp_path: Path, content: str, where: int, message: str) -> None:
    path = _write(tmp_path, "bad.csv", content)
    with pytest.raises(LabelledDataError) as info:
        read_labelled(path, CATS)
    assert f"{path}:{where}:" in str(info.value)
    assert message in str(info.value)


def test_reserved_category_name() -> None:
    with pytest.raises(ValueError, match="reserved"):
        read_labelled("x.jsonl", ["any"])


# --- slices ----------------------------------------------------------------------------------


def test_identity_matching_is_whole_word_and_case_insensitive() -> None:
    assert identity_groups("Jews and MUSLIMS") == {"jewish", "muslim"}
    assert identity_groups("jewelry, transport, blackboard, mangoes, islamabad") == set()
    assert identity_groups("trans rights are human rights") == {"lgbtq"}
    assert identity_groups("the women's team") == {"women"}
    assert identity_groups("African\n  Americans vote") == {"black"}
    assert identity_groups("a gay-friendly bar") == {"lgbtq"}  # hyphen is a word boundary
    assert identity_groups("gayety") == set()
    assert identity_groups("x", {"custom": ["foo bar"]}) == set()
    assert identity_groups("FOO   bar", {"custom": ["foo bar"]}) == {"custom"}


def test_slice_metrics_min_items_and_fpr_gap() -> None:
    n = 60
    y = np.zeros(n, dtype=bool)
    y[:10] = True
    flagged = y.copy()
    flagged[50:55] = True  # 5 benign items flagged, all in group B
    scores = flagged.astype(float) * 0.9
    masks = {"A": np.arange(n) < 30, "B": np.arange(n) >= 30, "tiny": np.arange(n) == 0}
    overall = binary_metrics(y, scores, flagged)
    out = slice_metrics(y, scores, flagged, masks, overall_fpr=overall["fpr"], min_items=20)
    assert set(out["groups"]) == {"A", "B"} and out["skipped"] == {"tiny": 1}
    assert out["groups"]["A"]["fpr"] == 0.0
    assert out["groups"]["B"]["fpr"] == pytest.approx(5 / 30)
    assert out["fpr_gap_group"] == "B"
    assert out["fpr_gap"] == pytest.approx(5 / 30 - 5 / 50)
    lo, hi = out["groups"]["B"]["fpr_ci"]
    assert lo < 5 / 30 < hi


# --- end to end ------------------------------------------------------------------------------


def _decision(
    content_id: str, probs: dict[str, float], threshold: float = 0.5, lang: str | None = None
) -> Decision:
    cats = {
        c: CategoryScore(
            probability=p,
            threshold=threshold,
            flagged=p >= threshold,
            action="remove" if p >= threshold else "allow",
        )
        for c, p in probs.items()
    }
    flagged = any(s.flagged for s in cats.values())
    return Decision(
        content_id=content_id,
        content_hash="0" * 64,
        action="remove" if flagged else "allow",
        flagged=flagged,
        language=lang,
        categories=cats,
        versions=Versions(policy="warden-default@1.0.0", pipeline="p1", models={"fast": "m1"}),
    )


def _dataset() -> tuple[list[LabelledItem], list[Decision]]:
    items: list[LabelledItem] = []
    decisions: list[Decision] = []
    rng = np.random.default_rng(1)
    for i in range(80):
        known: set[str] | None
        labels: set[str]
        kind = i % 4
        lang = "en" if i < 60 else "fr"
        text = "women deserve respect" if i % 2 else "the weather is nice"
        if kind == 0:
            labels, known = {"hate"}, None
            probs = {"hate": 0.6 + 0.3 * rng.random(), "violence": 0.1, "spam_scam": 0.05}
        elif kind == 1:
            labels, known = {"any"}, set()
            probs = {"hate": 0.2, "violence": 0.55, "spam_scam": 0.05}
        else:
            labels, known = set(), None
            hate = 0.7 if (text.startswith("women") and i % 8 == 3) else 0.1
            probs = {"hate": hate, "violence": 0.1, "spam_scam": 0.02}
        items.append(LabelledItem(id=f"i{i}", text=text, language=lang, labels=labels, known=known))
        decisions.append(_decision(f"i{i}", probs))
    return items, decisions


def test_run_evaluation_numbers(tmp_path: Path) -> None:
    items, decisions = _dataset()
    result = run_evaluation(items, decisions, CATS, {"data_file": "eval.jsonl"}, out_dir=None)
    overall = result["overall"]
    # 40 violating (20 hate + 20 "any"), all flagged; 40 benign, 10 of them (i % 8 == 3) flagged for hate.
    assert overall["support_pos"] == 40 and overall["support_neg"] == 40
    assert overall["recall"] == 1.0 and overall["fpr"] == pytest.approx(10 / 40)
    assert overall["precision"] == pytest.approx(40 / 50)
    hate = result["categories"]["hate"]
    # "any" items are excluded from every category.
    assert hate["n"] == 60 and hate["n_excluded"] == 20 and hate["support_pos"] == 20
    assert hate["threshold"] == 0.5
    known = [(it, d) for it, d in zip(items, decisions, strict=True) if it.is_known("hate")]
    y = [("hate" in it.labels) for it, _ in known]
    scores = [d.categories["hate"].probability for _, d in known]
    assert hate["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert hate["pr_auc"] == pytest.approx(average_precision_score(y, scores))
    assert result["categories"]["violence"]["support_pos"] == 0
    assert result["categories"]["violence"]["pr_auc"] is None
    lang = result["slices"]["language"]
    assert set(lang["groups"]) == {"en", "fr"}
    ident = result["slices"]["identity"]
    assert ident["groups"]["women"]["n"] == 40 and ident["groups"]["women"]["fpr"] == pytest.approx(10 / 20)
    assert ident["fpr_gap_group"] == "women" and ident["fpr_gap"] == pytest.approx(0.5 - 0.25)
    meta = result["meta"]
    assert meta["n_items"] == 80 and meta["data_file"] == "eval.jsonl"
    assert meta["policy_version"] == "warden-default@1.0.0" and meta["model_versions"] == {"fast": "m1"}


def test_run_evaluation_checks_alignment() -> None:
    items, decisions = _dataset()
    with pytest.raises(ValueError, match="expected 'i0'"):
        run_evaluation(items, [decisions[1], decisions[0], *decisions[2:]], CATS, {})
    with pytest.raises(ValueError, match="80 items but 79 decisions"):
        run_evaluation(items, decisions[:-1], CATS, {})
    with pytest.raises(ValueError, match="no score for category 'extra'"):
        run_evaluation(items, decisions, [*CATS, "extra"], {})


def test_evaluate_arrays_direct() -> None:
    arrays = EvalArrays(
        y=np.array([1, 0, 1, 0], dtype=bool),
        scores=np.array([0.9, 0.8, 0.3, 0.1]),
        flagged=np.array([1, 1, 0, 0], dtype=bool),
        category_ids=["hate"],
        cat_known=np.array([[1], [1], [0], [1]], dtype=bool),
        cat_y=np.array([[1], [0], [0], [0]], dtype=bool),
        cat_scores=np.array([[0.9], [0.8], [0.3], [0.1]]),
        cat_flagged=np.array([[1], [1], [0], [0]], dtype=bool),
    )
    out = evaluate_arrays(arrays)
    assert out["overall"]["roc_auc"] == pytest.approx(0.75)
    assert out["categories"]["hate"]["n"] == 3 and out["categories"]["hate"]["precision"] == 0.5
    assert out["slices"] == {}


def test_report_written(tmp_path: Path) -> None:
    items, decisions = _dataset()
    out = tmp_path / "report"
    meta = {"data_file": "<script>alert(1)</script>.jsonl"}
    run_evaluation(items, decisions, CATS, meta, out_dir=out)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == {"overall", "categories", "slices", "meta"}
    assert set(metrics["categories"]) == set(CATS)
    assert set(metrics["slices"]) == {"language", "identity"}
    for key in ("n_items", "data_file", "policy_version", "model_versions", "created_at"):
        assert key in metrics["meta"]
    assert metrics["overall"]["ece"] is not None and not math.isnan(metrics["overall"]["ece"])
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4  # overall + one per category with known items
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Per category" in page and "Slices: identity terms" in page and "women" in page


def test_overall_ignores_items_only_partly_known_benign() -> None:
    """'not hate' says nothing about 'any violation': such items leave the overall task only."""
    items = [
        LabelledItem(id="a", text="x", language="en", labels={"hate"}, known=None),
        LabelledItem(id="b", text="y", language="en", labels=set(), known=None),
        LabelledItem(id="c", text="z", language="en", labels=set(), known={"hate"}),
    ]
    decisions = [
        _decision("a", {"hate": 0.9, "violence": 0.1, "spam_scam": 0.1}),
        _decision("b", {"hate": 0.1, "violence": 0.1, "spam_scam": 0.1}),
        _decision("c", {"hate": 0.1, "violence": 0.1, "spam_scam": 0.9}),
    ]
    result = run_evaluation(items, decisions, CATS, {}, out_dir=None)
    assert result["overall"]["n"] == 2 and result["overall"]["n_excluded"] == 1
    assert result["overall"]["fpr"] == 0.0
    assert result["categories"]["hate"]["n"] == 3
