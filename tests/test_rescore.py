"""`warden ray rescore` on a local Ray cluster (Ray Data, real models, a real SQLite store): history
re-scored with a stricter candidate policy, the diff report, refused rows, and `--write` storing new
decision versions while leaving a person's revision alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text
from support import strict_harassment_policy

from warden.bootstrap import build
from warden.content import Content
from warden.rescore import RescoreOptions, rescore_on_ray
from warden.settings import Settings, get_settings
from warden.store import Store
from warden.store.engine import normalize_url
from warden.store.tables import DecisionHistoryRow

TEXTS = [
    "Have a lovely weekend, everyone!",
    "you are a worthless idiot and nobody likes you",
    "The meeting moved to 3pm on Thursday.",
    "shut up you pathetic loser",
]


@pytest.fixture
def ray_local() -> Iterator[None]:
    ray = pytest.importorskip("ray", reason="Ray is part of the `ray` extra (make setup installs it)")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_rescore_history_with_a_candidate_policy(ray_local: None, tmp_path: Path) -> None:
    settings: Settings = get_settings().model_copy(update={"database_url": f"sqlite:///{tmp_path / 'w.db'}"})
    settings = settings.override(review={"enabled": False})
    past = [Content(id=f"h-{i}", text=f"{TEXTS[i % 4]} ({i})") for i in range(12)]
    with build(settings) as app:
        live = {d.content_id: d for d in app.moderate(past, actor="client-1")}
    # A person revised h-1 since: a re-score must never overwrite that.
    engine = create_engine(normalize_url(settings.database_url))
    with engine.begin() as conn:
        conn.execute(
            insert(DecisionHistoryRow).values(
                decision_id=live["h-1"].decision_id,
                content_id="h-1",
                payload=live["h-1"].model_dump(mode="json"),
                created_at=datetime.now(UTC),
                actor="reviewer-ann",
            )
        )
    archive = tmp_path / "archive.jsonl"
    rows = [{"id": c.id, "text": c.text} for c in past]
    rows += [{"id": f"new-{i}", "text": TEXTS[i % 4]} for i in range(3)]  # never decided: live baseline now
    rows += [{"id": "h-0", "text": "a duplicate id in the archive"}]
    archive.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")

    options = RescoreOptions(policy_path=strict_harassment_policy(tmp_path), write=True)
    report = rescore_on_ray([archive], settings, options, actors=1, batch_size=64)
    assert (
        report["items"] == 15 and report["refused"] == 1 and "duplicate id" in report["refused_examples"][0]
    )
    assert report["categories"]["harassment"]["down"] == 0 and report["categories"]["harassment"]["up"] >= 1
    assert any(t.endswith("->remove") for t in report["transitions"]) and report["action_agreement"] < 1
    assert report["examples"] and report["examples"][0]["shadow"] == "remove"
    # Written: every stored decision but the one a person revised (the new items had none).
    assert report["revised"] == 11 and report["kept_human_or_absent"] == 1
    store = Store(settings.database_url)
    try:
        now = store.find_decisions_by_content_ids([c.id for c in past])
        strict = {d.versions.policy for cid, d in now.items() if cid != "h-1"}
        assert len(strict) == 1 and strict != {live["h-0"].versions.policy}
        assert now["h-1"].versions.policy == live["h-1"].versions.policy  # left alone
        assert all(now[c].decision_id == live[c].decision_id for c in now)  # same ids, new versions
        assert any(row["action"] == "decision.rescore" for row in store.list_audit(limit=50))
    finally:
        store.close()
    with engine.connect() as conn:
        versions = conn.execute(
            text("SELECT count(*) FROM decision_history WHERE content_id = 'h-2'")
        ).scalar_one()
    engine.dispose()
    assert versions == 2


def test_rescore_needs_a_candidate(tmp_path: Path) -> None:
    from warden.errors import ConfigError

    with pytest.raises(ConfigError, match="candidate"):
        rescore_on_ray([tmp_path / "x.jsonl"], get_settings(), RescoreOptions())
