"""Every shipped detector passes the conformance kit, with small real examples."""

import pytest

from warden.content import Content
from warden.detectors.base import BuildContext, Detector, DetectorRegistry, registry
from warden.detectors.embedding_head import E5HeadDetector, MiniLMHeadDetector
from warden.detectors.linear import LinearNgramDetector
from warden.detectors.testing import check_detector
from warden.policy import load_policy
from warden.settings import DEFAULT_MODELS_DIR, DEFAULT_POLICY_PATH

POLICY = load_policy(DEFAULT_POLICY_PATH)
EXAMPLES = [
    Content(id="en-1", text="You are a disgusting idiot and I hope you die."),
    Content(id="en-2", text="Congratulations! You won a free iPhone, click here to claim your prize now!"),
    Content(id="en-3", text="The weather in Lisbon is lovely this week."),
    Content(id="de-1", text="Du bist so ein dummer Idiot, halt einfach die Klappe."),
    Content(id="ko-1", text="오늘 날씨가 정말 좋네요"),
]
LANGS = ["en", "en", "en", "de", "ko"]


# Detectors whose kit runs elsewhere (with the backend they need): the LLM judge in test_llm_judge.
KIT_ELSEWHERE = {"llm_judge"}


def _registered() -> list[str]:
    import warden.detectors.llm_judge  # noqa: F401  (registers it, so the list below is complete)
    from warden.stages.text import _register_detectors

    _register_detectors()
    return [n for n in registry.names() if n not in KIT_ELSEWHERE]


@pytest.mark.parametrize("name", _registered())
def test_every_registered_detector_passes_the_kit(name: str):
    # Built the way a pipeline declaration builds it, so `build()` is covered too.
    cls = registry.get(name)
    detector = cls.build(BuildContext(models_dir=DEFAULT_MODELS_DIR, policy=POLICY))
    # A detector whose artifact does not ship builds its declared fallback (and says so in the log).
    fallback = getattr(cls, "fallback", None)
    shipped = getattr(cls, "available", lambda _: True)(DEFAULT_MODELS_DIR)
    assert isinstance(detector, Detector)
    assert detector.name == (name if shipped or fallback is None else fallback.name)
    check_detector(detector, EXAMPLES, POLICY.category_ids, LANGS)
    assert set(registry.names()) >= KIT_ELSEWHERE


def test_language_routing():
    en = MiniLMHeadDetector(DEFAULT_MODELS_DIR).detect(EXAMPLES, LANGS)
    multi = E5HeadDetector(DEFAULT_MODELS_DIR).detect(EXAMPLES, LANGS)
    assert [s.applicable for s in en] == [True, True, True, False, False]
    assert [s.applicable for s in multi] == [False, False, False, True, True]


def test_linear_evidence_points_at_words():
    det = LinearNgramDetector(DEFAULT_MODELS_DIR)
    sig = det.detect([Content(id="x", text="shut up you stupid bitch")], ["en"])[0]
    assert sig.evidence, sig.scores
    for ev in sig.evidence:
        assert "shut up you stupid bitch"[ev.start : ev.end] == ev.snippet


def test_registry_rejects_duplicate_names():
    reg = DetectorRegistry()
    reg.register(LinearNgramDetector)

    class Impostor(LinearNgramDetector):
        pass

    with pytest.raises(ValueError, match="linear_ngram"):
        reg.register(Impostor)
    assert {"linear_ngram", "encoder_minilm", "multilingual_e5", "fewshot_minilm", "fewshot_e5"} <= set(
        registry.names()
    )


def test_missing_artifact_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="warden train"):
        LinearNgramDetector(tmp_path).load()
