"""Shadow mode with the real models and a real SQLite store: a stricter candidate policy decides a
sample of live traffic beside the live pipeline, its decisions stored as shadow only, reported with
agreement, flips and latency; a failing candidate never reaches the live path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support import strict_harassment_policy
from typer.testing import CliRunner

from warden.bootstrap import Warden, build
from warden.cli import app as cli
from warden.content import Content
from warden.moderator import Moderator
from warden.settings import get_settings
from warden.shadow import sampled, shadow_report
from warden.store import Store
from warden.store.engine import normalize_url

TEXTS = [
    "Have a lovely weekend, everyone!",
    "you are a worthless idiot and nobody likes you",
    "The meeting moved to 3pm on Thursday.",
    "shut up you pathetic loser",
]


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.from_settings(get_settings().override(pipeline={"cascade_exits": False})).load()


@pytest.fixture
def strict_policy(tmp_path: Path) -> Path:
    return strict_harassment_policy(tmp_path)


def _app(tmp_path: Path, moderator: Moderator, policy: Path, rate: float) -> Warden:
    settings = get_settings().model_copy(update={"database_url": f"sqlite:///{tmp_path / 'w.db'}"})
    settings = settings.override(
        review={"enabled": False}, shadow={"enabled": True, "policy_path": str(policy), "sample_rate": rate}
    )
    return build(settings, store=Store(settings.database_url), moderator=moderator)


@pytest.fixture
def app(tmp_path: Path, moderator: Moderator, strict_policy: Path) -> Iterator[Warden]:
    warden = _app(tmp_path, moderator, strict_policy, rate=1.0)
    yield warden
    assert warden.store is not None
    warden.store.close()


def test_candidate_decides_beside_live_and_is_never_returned(app: Warden, moderator: Moderator) -> None:
    items = [Content(id=f"s-{i}", text=f"{TEXTS[i % 4]} ({i})") for i in range(16)]
    live = app.moderate(items)
    # What clients get is the live pipeline's decision, exactly.
    plain = moderator.moderate(items)
    assert [d.action for d in live] == [d.action for d in plain]
    assert {d.versions.policy for d in live} == {moderator.policy.full_version}
    assert app.service is not None and app.service.shadow is not None
    [report] = shadow_report(app.store)  # type: ignore[arg-type]
    assert report["candidate"] == app.service.shadow.name and report["items"] == 16
    # The strict candidate flags harassment wherever live does, and more: flips up, none down.
    assert report["categories"]["harassment"]["up"] >= 1 and report["categories"]["harassment"]["down"] == 0
    assert report["action_agreement"] < 1.0 and any(k.endswith("->remove") for k in report["transitions"])
    assert report["shadow_ms_per_item"] > 0 and report["live_ms_per_item"] > 0
    assert report["examples"] and report["examples"][0]["shadow"] == "remove"
    # Stored as shadow only: the decisions table holds the live decisions, one per item.
    assert app.store is not None
    stored = app.store.find_decisions_by_content_ids([i.id for i in items])
    assert {d.versions.policy for d in stored.values()} == {moderator.policy.full_version}
    # A retry of the same items is answered from the store and not shadowed again.
    app.moderate(items)
    assert shadow_report(app.store)[0]["items"] == 16


def test_sample_is_by_content_id() -> None:
    ids = [f"item-{i}" for i in range(20_000)]
    share = sum(sampled(i, 0.1) for i in ids) / len(ids)
    assert 0.09 < share < 0.11
    assert [sampled(i, 0.1) for i in ids[:100]] == [sampled(i, 0.1) for i in ids[:100]]
    assert not any(sampled(i, 0.0) for i in ids[:100]) and all(sampled(i, 1.0) for i in ids[:100])


def test_a_failing_candidate_never_fails_live_traffic(app: Warden) -> None:
    assert app.store is not None
    engine = create_engine(normalize_url(app.store.url))
    with engine.begin() as conn:  # the shadow table is gone: every shadow write fails
        conn.execute(text("DROP TABLE shadow_decisions"))
    engine.dispose()
    [decision] = app.moderate([Content(id="live-1", text="Have a lovely weekend!")])
    assert decision.content_id == "live-1"
    assert app.store.find_decisions_by_content_ids(["live-1"])["live-1"].decision_id == decision.decision_id


def test_cli_report(app: Warden, tmp_path: Path) -> None:
    app.moderate([Content(id=f"c-{i}", text=TEXTS[i % 4] + f" {i}") for i in range(4)])
    assert app.store is not None
    result = CliRunner().invoke(cli, ["shadow", "report", "--json", "--database", app.store.url])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert report["items"] == 4 and 0 <= report["action_agreement"] <= 1
    table = CliRunner().invoke(cli, ["shadow", "report", "--database", app.store.url])
    assert table.exit_code == 0 and "harassment" in table.output
