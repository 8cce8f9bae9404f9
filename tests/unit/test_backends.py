"""One registry per backend kind: every name the settings accept can be built, and an unknown name is one
error that lists the known names, whatever the kind."""

from __future__ import annotations

import typing

import pytest

from paperlens.config import DescribeSettings, EmbedSettings, GenerateSettings, IngestSettings, RerankSettings
from paperlens.errors import ConfigError, UnknownBackendError
from paperlens.generate import GENERATORS
from paperlens.index.embed import EMBEDDERS
from paperlens.ingest.describe import DESCRIBERS
from paperlens.ingest.layout import LAYOUTS
from paperlens.retrieve.rerank import RERANKERS

KINDS = [
    (LAYOUTS, IngestSettings, "layout"),
    (EMBEDDERS, EmbedSettings, "backend"),
    (RERANKERS, RerankSettings, "backend"),
    (DESCRIBERS, DescribeSettings, "backend"),
    (GENERATORS, GenerateSettings, "backend"),
]


@pytest.mark.parametrize(("registry", "section", "field"), KINDS, ids=[k[0].kind for k in KINDS])
def test_the_settings_accept_exactly_the_registered_names(registry, section, field):
    accepted = typing.get_args(section.model_fields[field].annotation)
    assert sorted(accepted) == sorted(registry.names())


@pytest.mark.parametrize(("registry", "section", "field"), KINDS, ids=[k[0].kind for k in KINDS])
def test_an_unknown_name_is_one_error_listing_the_known_names(registry, section, field):
    with pytest.raises(UnknownBackendError) as info:
        registry.build("no-such-backend")
    assert isinstance(info.value, ConfigError) and info.value.code == "unknown_backend"
    assert f"unknown {registry.kind} backend 'no-such-backend'" in info.value.message
    assert "known: " + ", ".join(registry.names()) in info.value.message
