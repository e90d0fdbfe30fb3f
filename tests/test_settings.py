"""One settings tree: sections read only through the WARDEN_ root (env, then warden.toml), a
validated `override`, and `warden config show` naming where each value came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from warden.cli import app
from warden.settings import Settings, describe_settings


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No WARDEN_ variables and no warden.toml of the developer's own."""
    import os

    for name in [n for n in os.environ if n.upper().startswith("WARDEN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_unprefixed_environment_variables_change_nothing(clean_env: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    for name, value in {"ENABLED": "false", "THREADS": "9", "PATH_": "x", "SEED": "7", "PORT": "1"}.items():
        clean_env.setenv(name, value)
    settings = Settings()
    assert settings == defaults
    assert settings.media.enabled and settings.banks.enabled and settings.review.enabled
    assert settings.media.threads == 2 and settings.graph.seed == 0 and settings.port == 8000


def test_sections_read_from_prefixed_env_then_toml(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "warden.toml").write_text(
        'port = 9000\n[graph]\npath = "g.npz"\naccount_risk_review_at = 0.7\n'
        "[pipeline]\ncascade_exits = false\n[judge]\nband_low = 0.4\n[media]\nthreads = 3\n"
    )
    clean_env.setenv("WARDEN_MEDIA__THREADS", "6")  # env wins over the file
    settings = Settings()
    assert settings.port == 9000 and settings.graph.path == Path("g.npz")
    assert settings.graph.account_risk_review_at == 0.7 and settings.pipeline.cascade_exits is False
    assert settings.judge.band_low == 0.4 and settings.media.threads == 6
    rows = {key: (value, source) for key, value, source in describe_settings(settings)}
    assert rows["media.threads"] == ("6", "env WARDEN_MEDIA__THREADS")
    assert rows["graph.path"] == ('"g.npz"', "warden.toml")
    assert rows["port"] == ("9000", "warden.toml")
    assert rows["banks.enabled"] == ("true", "default")


def test_unknown_section_fields_are_errors(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "warden.toml").write_text("[media]\nthreadz = 3\n")
    with pytest.raises(ValidationError, match="threadz"):
        Settings()


def test_override_validates_like_settings(clean_env: pytest.MonkeyPatch) -> None:
    base = Settings()
    changed = base.override(pipeline={"cascade_exits": False}, judge={"weight": 0.2})
    assert changed.pipeline.cascade_exits is False and changed.judge.weight == 0.2
    assert base.pipeline.cascade_exits is True  # a copy
    with pytest.raises(ValidationError, match="weight"):
        base.override(judge={"weight": 3})
    with pytest.raises(ValidationError, match="cascade_exit"):
        base.override(pipeline={"cascade_exit": False})
    with pytest.raises(ValueError, match="unknown settings section 'port'"):
        base.override(port={"x": 1})


def test_config_show_names_the_source(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WARDEN_REVIEW__QA_SAMPLE_RATE", "0.5")
    clean_env.setenv("WARDEN_JUDGE__API_KEY", "sk-secret-value")
    result = CliRunner().invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["setting"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["review.qa_sample_rate"] == {
        "setting": "review.qa_sample_rate",
        "value": 0.5,
        "source": "env WARDEN_REVIEW__QA_SAMPLE_RATE",
    }
    assert "sk-secret-value" not in result.stdout and rows["judge.api_key"]["value"] == "**********"
    clean_env.setenv("WARDEN_MEDIA__THREADS", "zero")
    bad = CliRunner().invoke(app, ["config", "show"])
    assert bad.exit_code == 2 and "invalid settings" in bad.output
