"""The cascade's last automated stage: the LLM judge (real SmolLM2 through llama.cpp) sees only items
still uncertain after the encoders, for their uncertain categories; what it cannot settle goes to
human review, and its rationale is stored with the decision."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import require_data, require_service

from warden.content import Content
from warden.moderator import Moderator
from warden.settings import get_settings
from warden.store import Store


@pytest.fixture(scope="module")
def llm_extra() -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        require_service("the LLM judge needs the llm extra (make setup installs it)")


@pytest.fixture(scope="module")
def moderator(llm_extra: None) -> Moderator:
    base = get_settings()
    settings = base.model_copy(update={"judge": base.judge.model_copy(update={"enabled": True})})
    return Moderator.from_settings(settings).load()


def test_only_the_uncertain_band_reaches_the_judge(moderator: Moderator, tmp_path: Path) -> None:
    benign, borderline, clear = moderator.moderate(
        [
            Content(id="b", text="Lovely weather for a walk in the park this afternoon."),
            Content(id="x", text="what a moron"),
            Content(
                id="s", text="WINNER!! Claim your free $1000 gift card now, click http://bit.ly/xyz to claim"
            ),
        ]
    )
    assert "judge" not in [s.name for s in benign.stages] and benign.judge is None
    assert "judge" not in [s.name for s in clear.stages] and clear.flagged
    assert [s.name for s in borderline.stages] == ["fast", "encoder", "judge"]
    judged = borderline.judge
    assert judged is not None and "harassment" in judged["categories"]
    assert judged["verdicts"] and set(judged["verdicts"]) <= set(judged["categories"])
    verdicts = {v["verdict"] for v in judged["verdicts"].values()}
    # Whatever the small model says, the routing rule holds: an item stays allowed only when the
    # judge cleared every category it was asked about; anything else is settled by a person.
    assert borderline.action != "allow" or verdicts == {"not_violating"}
    assert borderline.versions.models["llm_judge"].startswith("llm_judge@1/")
    # The rationale is stored with the decision and read back.
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.migrate()
    store.save_decisions([borderline], actor="test")
    assert store.get_decision(borderline.decision_id).judge == judged
    store.close()


def test_cli_judge_eval_reports_agreement(llm_extra: None) -> None:
    from typer.testing import CliRunner

    from warden.cli import app

    require_data("sms-spam-collection")
    result = CliRunner().invoke(
        app, ["judge", "eval", "--dataset", "sms-spam-collection", "--category", "spam_scam", "-n", "4"]
    )
    assert result.exit_code == 0, result.output
    assert "kappa" in result.output and "sms-spam-collection" in result.output
