"""The Stage seam: every registered stage passes the kit, `pipeline.stages` and `pipeline.text_tiers`
decide what runs, and a bank of bad domains (the `domain` signal type) settles links to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from warden.banks.exchange import RawEntry
from warden.banks.matcher import BankMatcher
from warden.bootstrap import bank_service, open_store
from warden.content import Content
from warden.decision import Versions
from warden.errors import ConfigError
from warden.graph.service import GraphService
from warden.graph.signal import AccountRiskScorer
from warden.moderator import Moderator
from warden.settings import TextTier, get_settings
from warden.stages import ItemState, Stage, stage_registry
from warden.stages.text import declared_tiers

READS = {"text", "hashes", "media", "author", "decision"}


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    # Without benign exits: these tests are about which declared stages run, not where items leave.
    return Moderator.from_settings(get_settings().override(pipeline={"cascade_exits": False})).load()


@pytest.fixture
def domain_banks(tmp_path: Path) -> Iterator[BankMatcher]:
    settings = get_settings().model_copy(update={"database_url": f"sqlite:///{tmp_path / 'banks.db'}"})
    store = open_store(settings)
    try:
        banks = bank_service(settings, store)
        banks.create_bank("scam-sites", "spam_scam", "remove", "phishing shops", actor="t")
        # A URL as the entry: stored as its host, so every path and subdomain of the site matches.
        banks.add_entries("scam-sites", [RawEntry(-1, "domain", "https://www.Bad-Shop.example/login")], "t")
        [entry] = store.banks.iter_entries("scam-sites")
        assert entry.value == "bad-shop.example"
        yield banks.matcher
    finally:
        store.close()


def test_every_registered_stage_passes_the_kit(moderator: Moderator, domain_banks: BankMatcher) -> None:
    full = moderator.attach(banks=domain_banks, account_risk=AccountRiskScorer(GraphService()))
    assert set(get_settings().pipeline.stages) <= set(stage_registry.names())
    versions = full.versions
    for name in stage_registry.names():
        cls = stage_registry.get(name)
        assert cls.name == name and cls.reads and cls.reads <= READS, name
        stage = cls.build(full.parts)
        if stage is None:  # not configured here (the judge is off by default)
            assert name == "judge"
            continue
        assert isinstance(stage, Stage) and stage.cost >= 0
        assert all(isinstance(k, str) and "@" in v for k, v in stage.models().items()), name
        stage.score([], versions)  # an empty batch is a no-op, never an error
        stage.decide([])
        # A decided item is left alone by every scoring stage.
        state = ItemState(content=Content(id="x", text="hello there"), language="en")
        state.decision = full.moderate([Content(id="x", text="hello there")])[0]
        before = state.decision.model_dump()
        stage.score([state], versions)
        assert state.decision.model_dump() == before, name


def test_declared_stages_decide_what_runs(moderator: Moderator, domain_banks: BankMatcher) -> None:
    item = Content(id="p1", text="thanks for the recipe, it worked great", author_id="someone")
    graph = AccountRiskScorer(GraphService())
    full = moderator.attach(banks=domain_banks, account_risk=graph)
    [decision] = full.moderate([item])
    assert [s.name for s in decision.stages] == ["banks", "fast", "encoder"]  # unknown author: no graph
    settings = moderator.settings.override(pipeline={"stages": ["text"]})
    only_text = Moderator(
        moderator.policy, moderator.pipeline, settings, banks=domain_banks, media=moderator.media
    )
    [plain] = only_text.moderate([item])
    assert [s.name for s in plain.stages] == ["fast", "encoder"]
    assert "bank_match" not in plain.versions.models and "bank_match" in decision.versions.models
    assert plain.categories == decision.categories
    # Without a text stage nothing scores a text: it is allowed, unscored, not guessed.
    none = Moderator(
        moderator.policy,
        moderator.pipeline,
        moderator.settings.override(pipeline={"stages": ["banks"]}),
        media=moderator.media,
    )
    [unscored] = none.moderate([item])
    assert unscored.action == "allow" and not any(c.evaluated for c in unscored.categories.values())
    with pytest.raises(ConfigError, match="unknown stage 'url_rep'.*known: banks"):
        Moderator(
            moderator.policy,
            moderator.pipeline,
            moderator.settings.override(pipeline={"stages": ["url_rep"]}),
            media=moderator.media,
        )
    with pytest.raises(ConfigError, match="declared twice"):
        Moderator(
            moderator.policy,
            moderator.pipeline,
            moderator.settings.override(pipeline={"stages": ["text", "text"]}),
            media=moderator.media,
        )


def test_text_tiers_come_from_the_declaration(moderator: Moderator) -> None:
    settings = moderator.settings
    tiers = declared_tiers(settings.pipeline, settings.models_dir, moderator.policy)
    assert [(name, [d.name for d in ds]) for name, ds in tiers] == [
        (stage.name, [d.name for d in stage.detectors]) for stage in moderator.pipeline.stages
    ]
    fast_only = settings.pipeline.model_copy(
        update={"text_tiers": [TextTier(name="fast", detectors=["linear_ngram"])]}
    )
    assert [n for n, _ in declared_tiers(fast_only, settings.models_dir, moderator.policy)] == ["fast"]
    no_e5 = settings.pipeline.model_copy(update={"enable_multilingual": False})
    names = [d.name for _, ds in declared_tiers(no_e5, settings.models_dir, moderator.policy) for d in ds]
    assert not {"multilingual_e5", "multilingual_e5_ft"} & set(names)
    assert {"encoder_minilm", "encoder_minilm_ft"} & set(names)  # fine-tuned, or its frozen fallback
    typo = settings.pipeline.model_copy(update={"text_tiers": [TextTier(name="fast", detectors=["linear"])]})
    with pytest.raises(ConfigError, match="tier 'fast': unknown detector 'linear'"):
        declared_tiers(typo, settings.models_dir, moderator.policy)


def test_linear_tier_gives_word_spans_for_media_evidence(moderator: Moderator) -> None:
    linear = moderator.pipeline.stages[0].detectors[0]
    text = "I will kill you and your family tonight"
    spans = linear.evidence_spans(text, "violence")
    assert spans and all(text[s["start"] : s["end"]] == s["snippet"] for s in spans)
    assert "kill" in {s["snippet"] for s in spans}
    assert linear.evidence_spans(text, "no_such_category") == []
    assert moderator.pipeline.stages[-1].detectors[0].evidence_spans(text, "violence") == []  # encoders: none


def test_a_bank_of_bad_domains_settles_links_to_them(moderator: Moderator, domain_banks: BankMatcher) -> None:
    mod = moderator.attach(banks=domain_banks)
    hit, dodged, subdomain, other, lookalike = mod.moderate(
        [
            Content(id="a", text="Your parcel is waiting: https://bad-shop.example/track?id=1"),
            Content(id="b", text="claim the prize at bad-shop[.]example today"),
            Content(id="c", text="log in at LOGIN.Bad-Shop.Example to keep your account"),
            Content(id="d", text="the recipe is on https://good-shop.example/cake"),
            Content(id="e", text="notbad-shop.example and bad-shop.example.org are unrelated"),
        ]
    )
    for decision in (hit, dodged, subdomain):
        assert decision.action == "remove" and decision.categories["spam_scam"].action == "remove"
        [reason] = decision.reasons
        evidence = reason.evidence[0]["detail"]
        assert (evidence["bank"], evidence["signal_type"]) == ("scam-sites", "domain")
        assert decision.stages[0].name == "banks" and decision.stages[0].exited
    for decision in (other, lookalike):
        assert not decision.stages[0].exited and "fast" in [s.name for s in decision.stages]
    with pytest.raises(ValueError, match="one hostname"):
        domain_banks.types["domain"].validate("not a domain")


def test_versions_name_each_stage_model(moderator: Moderator, domain_banks: BankMatcher) -> None:
    versions: Versions = moderator.attach(banks=domain_banks).versions
    assert versions.models["bank_match"] == f"{domain_banks.name}@{domain_banks.version}"
    assert set(moderator.pipeline.model_versions()) <= set(versions.models)


def test_copy_burst_stage_is_one_file_and_one_declared_name(moderator: Moderator) -> None:
    """The opt-in `burst` stage: the same text from many accounts goes to review; evasions of the
    copy still count as the copy; a short common text and a single author's reposts never do."""
    settings = moderator.settings.override(
        pipeline={"stages": [*moderator.settings.pipeline.stages, "burst"], "burst_min_authors": 3}
    )
    mod = Moderator(moderator.policy, moderator.pipeline, settings, media=moderator.media)
    text = "Great tips in this thread, I learned a lot about saving for retirement today"
    copies = [text, text.upper(), text.replace("o", "0").replace("e", "3").replace(" ", "  ")]
    first = mod.moderate(
        [Content(id=f"c{i}", text=t, author_id=f"acct{i}") for i, t in enumerate(copies[:2])]
    )
    assert [d.action for d in first] == ["allow", "allow"] and first[0].stages[-1].name == "burst"
    [third] = mod.moderate([Content(id="c2", text=copies[2], author_id="acct2")])
    assert third.action == "review" and third.categories["spam_scam"].action == "review"
    assert "posted by 3 accounts" in third.reasons[-1].clause
    # The same author reposting, and short texts everyone writes, are not a campaign.
    same = mod.moderate(
        [
            Content(id=f"s{i}", text="my own long post that I keep sharing again", author_id="me")
            for i in range(4)
        ]
    )
    short = mod.moderate([Content(id=f"t{i}", text="thanks so much!", author_id=f"u{i}") for i in range(4)])
    assert all(d.action == "allow" for d in same + short)
    # A policy reload keeps the memory (it belongs to the app, not to one policy's moderator).
    reloaded = mod.with_policy(moderator.policy)
    [fourth] = reloaded.moderate([Content(id="c3", text=text, author_id="acct3")])
    assert fourth.action == "review" and "posted by 4 accounts" in fourth.reasons[-1].clause
    with pytest.raises(ConfigError, match="burst_category 'memes'"):
        Moderator(
            moderator.policy,
            moderator.pipeline,
            settings.override(pipeline={"burst_category": "memes"}),
            media=moderator.media,
        )
