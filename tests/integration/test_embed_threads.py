"""With ``embed.query_runtime = "torch"`` a search embeds its query with ``embed.query_threads`` torch threads,
in the calling thread only: the keyword search beside it keeps a core, and batch embedding (ingestion)
elsewhere keeps all of them. (The ONNX runtime's session is built with that many threads.)"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from paperlens.config import EmbedSettings
from paperlens.index.embed import build_embedder


@pytest.fixture()
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _threads_while_embedding(embedder) -> list[int]:
    """Record torch's thread count each time the real passage embedding runs (it still runs)."""
    seen: list[int] = []
    embed = embedder.embed_passages

    def recording(texts):
        seen.append(torch.get_num_threads())
        return embed(texts)

    embedder.embed_passages = recording
    return seen


def test_a_query_is_embedded_with_one_thread_and_the_count_comes_back(two_torch_threads):
    embedder = build_embedder(EmbedSettings(query_threads=1, query_runtime="torch"))
    passage = embedder.embed_passages(["keyword search beside the query"])[0]
    seen = _threads_while_embedding(embedder)

    vector = embedder.embed_query("keyword search beside the query")

    assert seen == [1]
    assert torch.get_num_threads() == 2
    assert np.allclose(vector, passage, atol=1e-5)  # same vector, only fewer threads

    # From another thread, as the service's request threads call it: that thread gets one, this one keeps two.
    worker = threading.Thread(target=embedder.embed_query, args=("a",))
    worker.start()
    worker.join()
    assert seen == [1, 1] and torch.get_num_threads() == 2


def test_zero_leaves_torch_threads_as_they_are(two_torch_threads):
    embedder = build_embedder(EmbedSettings(query_threads=0, query_runtime="torch"))
    seen = _threads_while_embedding(embedder)
    embedder.embed_query("a query")
    assert seen == [2]
