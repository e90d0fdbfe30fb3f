"""Policy loading and `warden policy validate` error locations."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from warden.cli import app
from warden.learn.datasets import CATEGORIES
from warden.policy import PolicyError, load_policy, load_policy_text
from warden.settings import DEFAULT_POLICY_PATH

EXPECTED = set(CATEGORIES)  # the taxonomy the data sets are mapped onto


def test_default_policy_has_every_category_with_examples_and_actions():
    policy = load_policy(DEFAULT_POLICY_PATH)
    assert set(policy.category_ids) == EXPECTED
    for cat in policy.categories:
        assert len(cat.in_scope) >= 5 and cat.out_of_scope, cat.id
        assert cat.actions and cat.severity
    assert policy.full_version.startswith("warden-default@1.0.0+")


def test_fingerprint_changes_with_content_not_only_version():
    text = DEFAULT_POLICY_PATH.read_text()
    a = load_policy_text(text)
    b = load_policy_text(text.replace("Hate speech", "Hateful conduct"))
    assert a.version == b.version and a.full_version != b.full_version


BROKEN = """name: broken
version: "2"
categories:
  - id: hate
    title: Hate
    definition: Attacks on protected groups.
    severity: extreme
    in_scope: ["a", "b", "c"]
    actions:
      - {action: delete, min_probability: 0.5}
  - id: hate
    title: Again
    definition: Attacks on protected groups.
    severity: high
    in_scope: ["a"]
    actions:
      - {action: remove, min_probability: 0.5, target_precision: 0.9}
"""


def test_errors_name_their_lines():
    with pytest.raises(PolicyError) as info:
        load_policy_text(BROKEN, source="p.yaml")
    problems = "\n".join(info.value.problems)
    assert "p.yaml:7: categories.0.severity" in problems
    assert "p.yaml:10: categories.0.actions.0.action" in problems
    assert "p.yaml:17: categories.1.actions.0" in problems and "exactly one" in problems


def test_semantic_checks_after_fields_are_valid():
    text = (
        BROKEN.replace("extreme", "high").replace("delete", "remove").replace(", target_precision: 0.9", "")
    )
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, source="p.yaml")
    problems = "\n".join(info.value.problems)
    assert "at least 3 in_scope examples" in problems
    fixed = text.replace('in_scope: ["a"]', 'in_scope: ["a", "b", "c"]')
    with pytest.raises(PolicyError, match="duplicate category ids: hate"):
        load_policy_text(fixed, source="p.yaml")


def test_invalid_yaml_reports_position():
    with pytest.raises(PolicyError) as info:
        load_policy_text("name: x\ncategories: [\n", source="bad.yaml")
    assert "bad.yaml:" in info.value.problems[0] and "not valid YAML" in info.value.problems[0]


def test_cli_validate(tmp_path: Path):
    runner = CliRunner()
    ok = runner.invoke(app, ["policy", "validate", str(DEFAULT_POLICY_PATH)])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    res = runner.invoke(app, ["policy", "validate", str(bad)])
    assert res.exit_code == 1
    # Rich wraps the console at its width, and tmp paths are long (longer still in an xdist worker).
    assert f"{bad}:7" in " ".join(res.output.split())
    missing = runner.invoke(app, ["policy", "validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "file not found" in " ".join(missing.output.split())
