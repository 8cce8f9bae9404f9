"""A tiny random BERT cross-encoder built offline, trained a few steps to prefer the relevant passage.

``build_tiny_cross_encoder(folder)`` writes a transformers folder (config with one relevance label, weights,
a WordPiece tokenizer whose vocabulary is written here) that ``sentence_transformers.CrossEncoder(folder)``
loads exactly as it loads a downloaded reranker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: (query, relevant passage, irrelevant passage) triples the tiny model is trained on.
TRIPLES = [
    (
        "what dataset was the model trained on",
        "the model was trained on a corpus of scientific papers",
        "figure three shows the attention weights per layer",
    ),
    (
        "how many layers does the encoder have",
        "the encoder has twelve layers and eight attention heads",
        "we thank the reviewers for their helpful comments",
    ),
    (
        "which optimizer was used",
        "training used the adam optimizer with warmup",
        "table two lists the corpus statistics by language",
    ),
]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@dataclass
class TinyCrossEncoder:
    folder: Path
    model: Any  # the trained transformers model in memory
    tokenizer: Any


def build_tiny_cross_encoder(folder: Path, steps: int = 40, seed: int = 0) -> TinyCrossEncoder:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = sorted({w for triple in TRIPLES for text in triple for w in _words(text)})
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(SPECIAL_TOKENS + vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=64)

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(SPECIAL_TOKENS) + len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=1,
    )
    model = BertForSequenceClassification(config)

    queries = [q for q, _, _ in TRIPLES for _ in range(2)]
    passages = [p for _, good, bad in TRIPLES for p in (good, bad)]
    labels = torch.tensor([1.0, 0.0] * len(TRIPLES))
    batch = tokenizer(queries, passages, padding=True, return_tensors="pt")
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model on a shared machine: more threads only fight each other
    model.train()
    for _ in range(steps):
        logits = model(**batch).logits.squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    torch.set_num_threads(threads)

    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TinyCrossEncoder(folder, model, tokenizer)
