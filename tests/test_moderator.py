"""End to end through the Python API: real models, every category, evidence, versions, limits."""

import pytest
from pydantic import ValidationError as PydanticValidationError

from warden import Content, Moderator
from warden.errors import ValidationError
from warden.settings import Settings


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.from_settings(Settings()).load()


def test_every_category_in_every_decision(moderator):
    items = [
        Content(id="a", text="Have a wonderful day, see you at the game tonight!"),
        Content(id="b", text="Ich hoffe, du hast einen schönen Tag."),
        Content(id="c", text="هذا يوم جميل"),
    ]
    decisions = moderator.moderate(items)
    for d in decisions:
        assert set(d.categories) == set(moderator.policy.category_ids)
        assert d.versions.policy == moderator.policy.full_version
        assert "linear_ngram" in d.versions.models and d.versions.pipeline.startswith("pipeline-")
    assert [d.language for d in decisions][:2] == ["en", "de"]
    assert decisions[0].action == "allow" and not decisions[0].flagged


def test_violating_english_is_actioned_with_evidence(moderator):
    [d] = moderator.moderate([Content(id="x", text="Fuck you, you stupid bitch, shut your mouth")])
    assert d.flagged and d.action != "allow"
    assert d.reasons and d.reasons[0].clause
    spans = [e for r in d.reasons for e in r.evidence if e.get("kind") == "text_span"]
    assert spans, d.reasons
    assert all(0 <= e["start"] < e["end"] for e in spans)


def test_spam_is_caught(moderator):
    [d] = moderator.moderate(
        [
            Content(
                id="s",
                text="WINNER!! You have been selected for a £1000 prize. Call 09061701461 to claim now",
            )
        ]
    )
    assert d.categories["spam_scam"].probability > 0.5


def test_non_english_goes_through_multilingual_tier(moderator):
    [d] = moderator.moderate([Content(id="de", text="Halt die Fresse, du dummer Wichser")])
    assert d.language == "de"
    used = {s.name for s in d.stages}
    assert "encoder" in used or any(s.exited for s in d.stages)
    assert d.categories["harassment"].probability > d.categories["spam_scam"].probability


def test_limits_and_bad_input(moderator):
    with pytest.raises(ValidationError, match="duplicate id"):
        moderator.moderate([Content(id="1", text="a"), Content(id="1", text="b")])
    with pytest.raises(ValidationError, match="limit"):
        moderator.moderate([Content(id="big", text="x" * 20_001)])
    with pytest.raises(PydanticValidationError):
        Content(id="u", text="bad \udcff surrogate")
    with pytest.raises(PydanticValidationError):
        Content(id="", text="empty id")
    assert moderator.moderate([]) == []


def test_long_benign_text_is_not_inflated(moderator):
    text = "The weather was nice today and we went for a walk in the park. " * 120
    [d] = moderator.moderate([Content(id="long", text=text)])
    assert d.action == "allow", {k: v.probability for k, v in d.categories.items() if v.probability > 0.3}


def test_language_codes_are_normalised_and_nul_refused():
    assert Content(id="x", text="hi", language="EN-us").language == "en"
    assert Content(id="y", text="oi", language="pt_BR").language == "pt"
    for bad in ({"id": "a\x00"}, {"id": "a", "text": "x\x00y"}, {"id": "a", "language": "english please"}):
        with pytest.raises(PydanticValidationError):
            Content(**bad)


def test_switching_a_tier_off_still_uses_the_fast_tier():
    settings = Settings(pipeline={"enable_encoder": False, "enable_multilingual": False})
    lean = Moderator.from_settings(settings).load()
    [d] = lean.moderate([Content(id="lean", text="Fuck you, you stupid bitch, shut your mouth")])
    assert d.flagged and d.categories["profanity"].evaluated
    assert [s.name for s in d.stages] == ["fast"]
