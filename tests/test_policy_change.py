"""Same-day custom policy: a category no data set covers is scored at once by its examples, a new
policy is hot-reloaded through the API (admin only, audited, named in decisions), and
`warden policy backtest` shows which decisions a new policy would flip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import serve_app
from typer.testing import CliRunner

from warden.content import Content
from warden.evaluate.backtest import backtest
from warden.moderator import Moderator
from warden.policy.model import load_policy_text
from warden.serve import create_app
from warden.settings import DEFAULT_POLICY_PATH, Settings

MEDICAL = """
  - id: medical_misinformation
    title: Medical misinformation
    severity: high
    definition: >
      False or misleading health claims that can cause harm: fake cures, discouraging proven
      treatment or vaccination, or invented risks of medicines. Questions, personal experiences
      and disagreement among experts are allowed.
    in_scope:
      - "Drinking a little bleach every morning cures covid, the doctors are hiding it."
      - "Vaccines cause autism, never let them inject your kids."
      - "Stop your chemotherapy, lemon water and baking soda cure cancer naturally."
      - "Insulin is a scam by big pharma, cinnamon fixes diabetes."
      - "5G towers spread the virus, wearing a mask makes you sicker."
      - "Antibiotics cure the flu, take the leftover pills from last year."
    out_of_scope:
      - "I got my flu shot at the pharmacy today, arm is a bit sore."
      - "Does anyone know if ibuprofen is ok with this cold medicine?"
      - "My doctor said to finish the full course of antibiotics."
      - "New study finds vitamin D may help bone health in older adults."
    actions:
      - {action: review, min_probability: 0.2}
"""
MISINFORMATION = [
    "Garlic and turmeric cure cancer better than chemo, doctors lie to you",
    "the covid vaccine makes you magnetic and changes your DNA, doctors are lying",
]
BENIGN = ["I have a headache, should I take paracetamol?", "Great game last night, what a goal!"]


def custom_policy_yaml() -> str:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "1.1.0-med"')
    return text + MEDICAL


@pytest.fixture(scope="module")
def moderators() -> tuple[Moderator, Moderator]:
    old = Moderator.from_settings().load()
    new = old.with_policy(load_policy_text(custom_policy_yaml())).load()
    # Loaded models are shared; only the detectors that read the policy (few-shot) are rebuilt.
    old_dets = [d for st in old.pipeline.stages for d in st.detectors]
    new_dets = [d for st in new.pipeline.stages for d in st.detectors]
    for a, b in zip(old_dets, new_dets, strict=True):
        assert (a is b) == (not a.name.startswith("fewshot")), a.name
    return old, new


def test_new_category_is_scored_at_once(moderators: tuple[Moderator, Moderator]) -> None:
    _, new = moderators
    decisions = new.moderate([Content(id=str(i), text=t) for i, t in enumerate(MISINFORMATION + BENIGN)])
    scores = [d.categories["medical_misinformation"].probability for d in decisions]
    assert min(scores[:2]) > max(scores[2:]) + 0.1, scores
    assert [d.action for d in decisions[:2]] == ["review", "review"]
    assert all(d.versions.policy.startswith("warden-default@1.1.0-med") for d in decisions)
    reason = next(r for r in decisions[0].reasons if r.category == "medical_misinformation")
    assert "fake cures" in reason.clause


def test_backtest_reports_flips(moderators: tuple[Moderator, Moderator], tmp_path: Path) -> None:
    old, new = moderators
    items = [Content(id=f"m{i}", text=t) for i, t in enumerate(MISINFORMATION + BENIGN)]
    report = backtest(old, new, items)
    assert report.items == 4 and report.changed == 2
    assert report.new_flagged["medical_misinformation"] == 2  # its only rule is review: review flags
    assert report.transitions[("allow", "review")] == 2
    assert {f.content_id for f in report.flips if f.new_action == "review"} == {"m0", "m1"}
    # The CLI runs the same comparison from files.
    from warden.cli import app

    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"id": i.id, "text": i.text}) + "\n" for i in items))
    policy_file = tmp_path / "new.yaml"
    policy_file.write_text(custom_policy_yaml())
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["policy", "backtest", str(policy_file), "--data", str(data), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "2 items change action" in result.output
    assert json.loads(out.read_text())["changed"] == 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    db_dir = tmp_path_factory.mktemp("warden-policy")
    settings = Settings(database_url=f"sqlite:///{db_dir / 'warden.db'}")
    with serve_app(create_app(settings)) as url:
        admin = (db_dir / "bootstrap-admin.key").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            client_key = c.post("/v1/admin/api-keys", json={"name": "c", "role": "client"}).json()["key"]
        yield url, admin, client_key


def test_hot_reload_through_the_api(server: tuple[str, str, str]) -> None:
    url, admin, client_key = server
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {client_key}"}, timeout=120) as client:
        assert client.put("/v1/policies/active", json={"yaml": custom_policy_yaml()}).status_code == 403
        before = client.post("/v1/moderate", json={"id": "before", "text": MISINFORMATION[0]}).json()[
            "decisions"
        ][0]
    assert "medical_misinformation" not in before["categories"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=120) as c:
        broken = custom_policy_yaml().replace("min_probability: 0.2}", "min_probability: 2.0}")
        line = next(n for n, text in enumerate(broken.splitlines(), 1) if "min_probability: 2.0}" in text)
        r = c.put("/v1/policies/active", json={"yaml": broken})
        assert r.status_code == 422 and f"request body:{line}:" in r.json()["error"]["message"]  # its line
        r = c.put("/v1/policies/active", json={"yaml": custom_policy_yaml()})
        assert r.status_code == 200, r.text
        assert r.json()["full_version"].startswith("warden-default@1.1.0-med")
        policies = c.get("/v1/policies").json()
        assert policies["active"]["full_version"] == r.json()["full_version"]
        assert len(policies["history"]) == 2
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {client_key}"}, timeout=120) as client:
        after = client.post("/v1/moderate", json={"id": "after", "text": MISINFORMATION[0]}).json()[
            "decisions"
        ][0]
        assert after["categories"]["medical_misinformation"]["action"] == "review"
        assert after["versions"]["policy"] == r.json()["full_version"]
        health = client.get("/healthz").json()
        assert health["versions"]["policy"] == r.json()["full_version"]
