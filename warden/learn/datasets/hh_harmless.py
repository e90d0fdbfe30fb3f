"""hh-rlhf-harmless-test: loader, spec and label mapping."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from .base import (
    BENIGN,
    CATEGORIES,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _item,
    _spec,
    _split_for,
)

# hh-rlhf: the final Assistant turn of the 'chosen' transcript, only when it refuses, redirects to
# help, or says it did not understand, and carries none of the words below. Everything else
# (Human red-team turns, earlier turns, 'rejected', chosen replies that comply) is left out:
# 'chosen' only means "less harmful than the other reply", not harmless.
_Q = "['’]"


HH_REFUSAL = re.compile(
    rf"\bI(?:{_Q}m| am) (?:sorry|afraid)\b[^.!?]{{0,60}}\b(?:can{_Q}?t|cannot|won{_Q}t|will not|unable"
    r"|not (?:able|going|comfortable|willing|programmed))"
    rf"|\bI (?:can{_Q}?t|cannot|won{_Q}t|will not"
    rf"|(?:do not|don{_Q}t) (?:want|feel comfortable|think I (?:can|should))"
    rf"|(?:am|{_Q}m) not (?:going|able|comfortable|willing|programmed))"
    r" (?:to )?(?:help|assist|do (?:that|this)|provide|give|tell|answer|support|recommend|encourage|share"
    r"|participate|engage|say|write|advise|condone)"
    rf"|\bI(?:{_Q}d| would) (?:not|never|rather not) (?:recommend|advise|suggest|encourage|help|do)"
    rf"|\bI (?:do not|don{_Q}t) think (?:that|this|it)(?:{_Q}s| is| would be)"
    r" (?:a good idea|appropriate|okay|ok|legal|safe|right|ethical)"
    rf"|\b(?:that|this|it)(?:{_Q}s| is| would be| sounds| seems) (?:really |very |quite )?"
    r"(?:illegal|dangerous|harmful|unethical|cruel|abusive|inappropriate"
    r"|not (?:ok|okay|appropriate|a good idea|legal|safe|ethical|right|nice|kind))"
    r"|\b(?:talk|speak|reach out) to (?:a |an |your )?(?:doctor|therapist|counsel+or|professional|trusted"
    r"|parent|teacher|police|lawyer|someone you trust)"
    r"|\b(?:suicide|crisis) (?:prevention )?(?:hot ?line|line|lifeline)|\bcall 911\b"
    rf"|^(?:I{_Q}m )?sorry,? (?:but )?I (?:do not|don{_Q}t) (?:understand|follow)\b",
    re.I,
)


HH_EXCLUDE = re.compile(
    r"\b(?:fuck\w*|shit\w*|bitch\w*|cunt\w*|dick\w*|cock\w*|pussy|whore\w*|slut\w*|nigg\w*|fag\w*|retard\w*"
    r"|kike\w*|spic\w*|chink\w*|bastard\w*|asshole\w*|damn\w*|porn\w*|penis|vagina|sex\w*|naked|nude\w*"
    r"|kill\w*|murder\w*|rape\w*|bomb\w*|gun\w*|drug\w*|weapon\w*|poison\w*|steal\w*|bull(?:y|ies|ying)"
    r"|fight\w*|punch\w*|beat\w*|hurt\w*|attack\w*|(?:probably|that[’']s|it[’']s) fine|go ahead)\b|Human:",
    re.I,
)


_HH_MAX_CHARS = 600


_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def hh_benign_reply(transcript: str) -> str | None:
    """The final Assistant turn of an hh-rlhf transcript when the documented benign rule accepts it."""
    parts = _HH_TURN.split("\n\n" + transcript.lstrip("\n"))
    turns = list(zip(parts[1::2], parts[2::2], strict=False))
    if not turns or turns[-1][0] != "Assistant":
        return None
    reply = turns[-1][1].strip()
    if not reply or len(reply) > _HH_MAX_CHARS or HH_EXCLUDE.search(reply) or not HH_REFUSAL.search(reply):
        return None
    return reply


def _load_hh_harmless(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with gzip.open(root / "harmless-base_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            reply = hh_benign_reply(json.loads(line)["chosen"])
            if reply is None:
                continue
            out.append(_item(spec, str(i), reply, _split_for(reply, TRAIN_CALIB_TEST), dict(BENIGN)))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("hh-rlhf-harmless-test", "hh-rlhf-harmless-test", ("en",), "MIT", True, CATEGORIES,
          _load_hh_harmless, ("harmless-base_test.jsonl.gz",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "hh-rlhf-harmless-test": (
        "Anthropic HH-RLHF harmless-base test: only the final Assistant turn of each 'chosen' transcript, "
        "and only when it matches the refusal / safety-redirect / did-not-understand regex "
        "(datasets.HH_REFUSAL), is at most 600 characters and contains none of the HH_EXCLUDE words "
        "(profanity, slurs, sex, weapons, drugs, violence words, approval such as 'that's fine' or 'go "
        "ahead', an embedded 'Human:') -> all categories 0 (the 78 selected replies were read). "
        "Human turns (red-team prompts), earlier turns, 'rejected' and compliant chosen replies are "
        "never used: 'chosen' only means less harmful. Hash 70/15/15."
    ),
}
