"""jigsaw-bias-templates-{en,de,nl,hi,zh}: loader, spec and label mapping."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .base import (
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    Loader,
    _clean,
    _columns,
    _item,
    _spec,
    _split_for,
)

# Identity-attack templates ("I hate X", "Being X is <bad>"): toxic -> hate=1, unless X is an age
# group (age is not a protected characteristic in the default policy): then any_violation only.
_JB_ATTACK = {
    "am_hate_adj",
    "being_adj",
    "i_hate_identity_people",
    "being_identity_is_adjective",
    "hate_identity",
}


# Insults of a person ("<name> is a dumb X", "You are a vile X"): toxic, kind not annotated.
_JB_INSULT = {"name_adj", "you_are_adj", "you_occupation", "you_are_a_adjective_identity_person"}


_JB_AGE = {
    "en": r"\b(?:old|older|elderly|young|younger|teenage|millenial|middle aged)\b",
    "de": r"\b(?:alt|alter|älter|jung|junger|jünger|jugendlich|mittleren alters|millenial)\b",
    "nl": r"\b(?:baby|gepensioneerde|jong|jongere|junior|kind|kleuter|oud|oudere|peuter|puber|senior|tiener"
    r"|twintiger|van middelbare leeftijd|volwassen|gast)\b",
    "hi": r"\b(?:purana|purani|adhed|kishoravastha|jawan|chota)\b",
    "zh": r"中年人|中老年人|儿童|婴儿|小孩|少儿|少年|年轻人|幼儿|成人|成年人|老人|老年人|长者|青壮年"
    r"|青少年|青年",
}


def _jigsaw_templates(fname: str, lang: str) -> Loader:
    age = re.compile(_JB_AGE[lang], re.I)

    def load(spec: DatasetSpec, root: Path) -> list[LabeledText]:
        out = []
        with open(root / "sentence_templates" / fname, encoding="utf-8", newline="") as fh:
            for i, (template, tox, raw) in enumerate(
                _columns(csv.reader(fh), ("template", "toxicity", "phrase"), fname)
            ):
                text = _clean(re.sub(r" {2,}", " ", raw))
                if not text or tox not in {"toxic", "nontoxic"}:
                    continue
                anyv: int | None
                if tox == "nontoxic":
                    labels, anyv = dict(BENIGN), 0  # neutral/positive identity mention
                elif template in _JB_ATTACK and not age.search(text):
                    labels, anyv = {"hate": 1}, 1
                elif template in _JB_ATTACK or template in _JB_INSULT:
                    labels, anyv = {}, 1
                else:
                    continue  # toxic verb_* fragments ("kill X", "忽视 X"): no sentence, no category
                out.append(
                    _item(spec, f"{template}:{i}", text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv)
                )
        return out

    return load


_JB_LANGS = (("en", "en"), ("de", "de"), ("nl", "nl"), ("hi", "hi-Latn"), ("zh", "zh-cn"))


_JB_CAP = 3_000  # per language


SPECS: tuple[DatasetSpec, ...] = (
    *(
        _spec(f"jigsaw-bias-templates-{lang}", "jigsaw-bias-templates", (lang,), "Apache-2.0", True,
              ("hate",), _jigsaw_templates(f"{stem}_sentence_templates.csv", lang),
              (f"sentence_templates/{stem}_sentence_templates.csv",), family="jigsaw-bias-templates",
              cap=_JB_CAP)
        for lang, stem in _JB_LANGS
    ),
)  # fmt: skip

NOTES: dict[str, str] = {
    **{
        f"jigsaw-bias-templates-{lang}": (
            f"Conversation AI identity-term sentence templates ({stem}_sentence_templates.csv; labels come "
            "from the template word, not annotators): nontoxic -> all categories 0 (neutral or positive "
            "identity mentions); toxic identity attacks ('I hate X', 'Being X is <bad>') -> hate=1, or "
            "any_violation=1 with categories unknown when X is an age group (age is not protected in the "
            "default policy); toxic insults of a person ('<name> is a dumb X', 'You are a vile X') -> "
            "any_violation=1, categories unknown; toxic verb fragments ('kill X', '忽视 X') skipped. "
            "Hash 70/15/15; capped at 3,000 items per language (one spec per language, family "
            "jigsaw-bias-templates); the archive bias_madlibs_77k.csv (an older copy of en) is ignored."
        )
        for lang, stem in _JB_LANGS
    },
}
