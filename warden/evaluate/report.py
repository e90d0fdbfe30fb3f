"""metrics.json and a self-contained report.html (plots embedded as base64 PNG).

Plots use matplotlib's object API with an explicit Agg canvas rather than pyplot: no global
backend switch, no figure registry to leak, and safe to call from a server thread.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_CURVE_POINTS = 4000  # enough for a smooth line; 100k-point curves only slow rendering


def _jsonable(value: Any) -> Any:
    """Plain JSON types only; NaN/inf become null because they are not valid JSON."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        items = sorted(value) if isinstance(value, set) else list(value)
        return [_jsonable(v) for v in items]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)  # e.g. datetime or Path in meta


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"{value[0]:.{digits}f}–{value[1]:.{digits}f}"
    return _esc(_jsonable(value) if not isinstance(value, str) else value)


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    idx = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).astype(int))
    return x[idx], y[idx]


def _plot_pr(ax: Any, curve: Mapping[str, Any]) -> None:
    precision = np.asarray(curve["precision"], dtype=float)
    recall = np.asarray(curve["recall"], dtype=float)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    if len(recall) == 0:
        ax.text(0.5, 0.5, "no positives", ha="center", va="center", color="#666")
        ax.set_title("Precision-recall")
        return
    r, p = _thin(np.r_[0.0, recall], np.r_[precision[0], precision])
    ax.step(r, p, where="pre", color="#1f5fa8", lw=1.6)
    if curve.get("prevalence") is not None:
        ax.axhline(curve["prevalence"], color="#999", ls="--", lw=1, label="prevalence")
    op = curve.get("operating_point") or {}
    if op.get("precision") is not None and op.get("recall") is not None:
        ax.plot([op["recall"]], [op["precision"]], "o", color="#c0392b", label="policy threshold")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(f"Precision-recall (AP {_fmt(curve.get('pr_auc'))})")


def _plot_reliability(ax: Any, curve: Mapping[str, Any]) -> None:
    bins = [b for b in curve.get("reliability", []) if b["count"]]
    ax.plot([0, 1], [0, 1], ls="--", color="#999", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("fraction violating")
    ax.grid(alpha=0.3)
    ax.set_title(f"Reliability (ECE {_fmt(curve.get('ece'))})")
    if not bins:
        return
    counts = np.array([b["count"] for b in bins], dtype=float)
    hist = ax.twinx()
    hist.bar(
        [(b["lo"] + b["hi"]) / 2 for b in bins],
        counts / counts.sum(),
        width=bins[0]["hi"] - bins[0]["lo"],
        color="#ddd",
        zorder=0,
    )
    hist.set_ylim(0, 1)
    hist.set_ylabel("share of items", color="#888")
    hist.tick_params(axis="y", colors="#888")
    ax.set_zorder(hist.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(
        [b["mean_predicted"] for b in bins],
        [b["fraction_positive"] for b in bins],
        "o-",
        color="#1f5fa8",
        lw=1.4,
        ms=4,
    )


def _figure(title: str, curve: Mapping[str, Any]) -> str:
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax_pr, ax_rel = fig.subplots(1, 2)
    _plot_pr(ax_pr, curve)
    _plot_reliability(ax_rel, curve)
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return _png(fig)


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{b64}">'


def _table(
    headers: Iterable[str], rows: Iterable[Iterable[str]], row_classes: Iterable[str] | None = None
) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    classes = list(row_classes) if row_classes is not None else None
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{_esc(classes[i])}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_METRIC_HEADERS = ["n", "pos", "neg", "precision", "recall", "F1", "FPR", "PR-AUC", "ROC-AUC", "ECE"]


def _metric_cells(m: Mapping[str, Any]) -> list[str]:
    return [
        _fmt(m.get(k))
        for k in (
            "n",
            "support_pos",
            "support_neg",
            "precision",
            "recall",
            "f1",
            "fpr",
            "pr_auc",
            "roc_auc",
            "ece",
        )
    ]


def _slice_section(title: str, key: str, s: Mapping[str, Any], intro: str) -> str:
    groups = s.get("groups", {})
    parts = [f"<h2>{_esc(title)}</h2>", f"<p>{intro}</p>"]
    if s.get("fpr_gap") is not None:
        parts.append(
            f'<p class="callout">FPR gap: <b>{_fmt(s["fpr_gap"])}</b> '
            f"(highest group FPR, {_esc(s['fpr_gap_group'])}, minus overall FPR {_fmt(s['overall_fpr'])})</p>"
        )
    if groups:
        overall_fpr = s.get("overall_fpr")
        rows, classes = [], []
        for name, m in sorted(groups.items(), key=lambda kv: -(kv[1]["fpr"] or 0.0)):
            ci = m.get("fpr_ci")
            # Above overall even at the low end of its 95% interval: not just small-sample noise.
            high = ci is not None and overall_fpr is not None and ci[0] > overall_fpr
            classes.append("warn" if high else "")
            rows.append(
                [
                    _esc(name),
                    _fmt(m["n"]),
                    _fmt(m["support_neg"]),
                    f"<b>{_fmt(m['fpr'])}</b>",
                    _fmt(ci),
                    _fmt(m.get("fpr_delta")),
                    _fmt(m["support_pos"]),
                    _fmt(m["recall"]),
                    _fmt(m["precision"]),
                    _fmt(m["pr_auc"]),
                ]
            )
        parts.append(
            _table(
                [
                    key,
                    "n",
                    "benign",
                    "FPR",
                    "FPR 95% CI",
                    "FPR − overall",
                    "violating",
                    "recall",
                    "precision",
                    "PR-AUC",
                ],
                rows,
                classes,
            )
        )
    else:
        parts.append("<p>No group reached the minimum size.</p>")
    skipped = s.get("skipped") or {}
    if skipped:
        listed = ", ".join(f"{_esc(g)} ({n})" for g, n in sorted(skipped.items()))
        parts.append(
            f'<p class="note">Fewer than {_fmt(s.get("min_items"))} items, not reported: {listed}</p>'
        )
    return "\n".join(parts)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1180px;
margin:2em auto;padding:0 1em;background:#fafafa}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #e3e3e3;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;background:#fff;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 9px;text-align:right}th{background:#f0f3f7}
td:first-child,th:first-child{text-align:left}tr.warn td{background:#fdecea}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:1em 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:100px}
.card .v{font-size:1.5em;font-weight:600}.card .k{color:#666;font-size:.85em}
.callout{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px}
.note{color:#666;font-size:.9em}img{max-width:100%;background:#fff;border:1px solid #e3e3e3;margin:.4em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dt{color:#666}dd{margin:0}
"""


def _render_html(result: Mapping[str, Any], curves: Mapping[str, Any]) -> str:
    meta = result.get("meta", {})
    overall = result["overall"]
    categories = result.get("categories", {})
    slices = result.get("slices", {})
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Warden evaluation — {_esc(meta.get('data_file') or 'report')}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Warden evaluation</h1>",
    ]
    meta_rows = "".join(
        f"<dt>{_esc(k)}</dt><dd>{_esc(v if isinstance(v, str) else json.dumps(_jsonable(v)))}</dd>"
        for k, v in meta.items()
        if k != "category_ids"
    )
    out.append(f"<dl>{meta_rows}</dl>")

    cards = [
        ("precision", overall.get("precision")),
        ("recall", overall.get("recall")),
        ("F1", overall.get("f1")),
        ("FPR", overall.get("fpr")),
        ("PR-AUC", overall.get("pr_auc")),
        ("ROC-AUC", overall.get("roc_auc")),
        ("ECE", overall.get("ece")),
    ]
    identity = slices.get("identity") or {}
    if identity.get("fpr_gap") is not None:
        cards.append((f"identity FPR gap ({identity['fpr_gap_group']})", identity["fpr_gap"]))
    out.append("<h2>Overall: any category flagged</h2>")
    out.append(
        '<p class="note">Violating = the item has any label (including "any"); flagged = any category at or '
        "above its policy threshold; score = the highest category probability (an approximation of "
        "P(any violation), so its calibration is indicative only).</p>"
    )
    out.append(
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{_fmt(v)}</div><div class="k">{_esc(k)}</div></div>'
            for k, v in cards
        )
        + "</div>"
    )
    out.append(_table(_METRIC_HEADERS, [_metric_cells(overall)]))
    if "overall" in curves:
        out.append(_img(_figure("Overall", curves["overall"]), "overall precision-recall and reliability"))

    out.append("<h2>Per category</h2>")
    out.append(
        '<p class="note">Only items whose label for the category is known count; "excluded" are the rest '
        '(e.g. items labelled only "any").</p>'
    )
    rows = [
        [_esc(cat), _fmt(m.get("threshold")), _fmt(m.get("n_excluded"))] + _metric_cells(m)
        for cat, m in categories.items()
    ]
    out.append(_table(["category", "threshold", "excluded", *_METRIC_HEADERS], rows))
    for cat, curve in curves.get("categories", {}).items():
        if curve.get("support_pos", 0) + curve.get("support_neg", 0) == 0:
            continue  # nothing known about this category: no plot to draw
        out.append(_img(_figure(cat, curve), f"{cat} precision-recall and reliability"))

    if "identity" in slices:
        out.append(
            _slice_section(
                "Slices: identity terms",
                "group",
                slices["identity"],
                "Items whose text mentions an identity term (whole word, case-insensitive). The FPR "
                "column is the share of <b>benign</b> items mentioning the group that are flagged: a model "
                "that learned the term itself as a signal shows up here. Highlighted rows are above the "
                "overall FPR even at the low end of their 95% interval.",
            )
        )
        terms = identity.get("terms") or {}
        if terms:
            listed = "; ".join(f"<b>{_esc(g)}</b>: {_esc(', '.join(t))}" for g, t in terms.items())
            out.append(
                f'<details><summary class="note">Terms per group</summary><p class="note">{listed}</p>'
                "</details>"
            )
    if "language" in slices:
        out.append(
            _slice_section(
                "Slices: language",
                "language",
                slices["language"],
                "Overall-task metrics per language (given in the data, else detected).",
            )
        )
    out.append("</body></html>")
    return "\n".join(out)


def write_report(result: dict[str, Any], out_dir: Path, curves: dict[str, Any]) -> tuple[Path, Path]:
    """Write out_dir/metrics.json and out_dir/report.html; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    html_path = out_dir / "report.html"
    payload = json.dumps(_jsonable(result), indent=2, ensure_ascii=False, allow_nan=False)
    metrics_path.write_text(payload + "\n", encoding="utf-8")
    html_path.write_text(_render_html(result, curves), encoding="utf-8")
    return metrics_path, html_path
