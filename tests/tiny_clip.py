"""A tiny open_clip model built offline and trained just enough to tell four drawn patterns apart.

``build_tiny_clip(folder)`` writes what a user of the CLIP backend would point paperlens at:
- ``paperlens-tiny-clip.json``: a custom architecture config (register it with ``image_embed.config_path``),
- ``tiny_clip.pt``: a plain state-dict checkpoint (``image_embed.pretrained = "<path>.pt"``),
- ``local/``: ``open_clip_config.json`` + ``open_clip_model.safetensors`` (``pretrained = "local-dir:<path>"``),
so tests load it through open_clip's real loading path. The model is random-initialised (``pretrained=None``)
and then trained for a few dozen contrastive steps on (drawn image, caption) pairs, which takes a couple of
seconds on one CPU core and makes "text query finds the right crop" a real, checkable outcome.

The text tower keeps ``vocab_size = 49408`` so open_clip's bundled BPE tokenizer (no download) fits it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TINY_CLIP_NAME = "paperlens-tiny-clip"
TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def _red_square(draw, w: int, h: int, shift: int) -> None:
    side = min(w, h) * 3 // 4
    x0, y0 = (w - side) // 2 + shift, (h - side) // 2 + shift
    draw.rectangle([x0, y0, x0 + side, y0 + side], fill=(220, 30, 30))


def _blue_stripes(draw, w: int, h: int, shift: int) -> None:
    step = max(4, min(w, h) // 3)
    for x in range(shift % step, w, step):
        draw.rectangle([x, 0, x + step // 2 - 1, h], fill=(30, 60, 220))


def _green_checkerboard(draw, w: int, h: int, shift: int) -> None:
    cell = max(4, min(w, h) // 4)
    for y in range(0, h, cell):
        for x in range(0, w, cell):
            if ((x + shift) // cell + y // cell) % 2 == 0:
                draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(30, 170, 60))


def _black_bars(draw, w: int, h: int, shift: int) -> None:
    step = max(4, min(w, h) // 3)
    for y in range(shift % step, h, step):
        draw.rectangle([0, y, w, y + step // 2 - 1], fill=(10, 10, 10))


#: caption -> how to draw it. The captions double as the text queries in the tests.
PATTERNS: dict[str, Callable[..., None]] = {
    "a red square": _red_square,
    "blue vertical stripes": _blue_stripes,
    "a green checkerboard": _green_checkerboard,
    "black horizontal bars": _black_bars,
}


def draw_pattern(
    caption: str, width: int = 96, height: int = 72, shift: int = 0, noise: float = 0.0, seed: int = 0
):
    """A PIL image of one pattern on white, optionally shifted and with pixel noise (a 'different crop')."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "white")
    PATTERNS[caption](ImageDraw.Draw(image), width, height, shift)
    if noise:
        pixels = np.asarray(image, dtype=np.float32)
        pixels += np.random.default_rng(seed).normal(0.0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image


@dataclass
class TinyClip:
    config_json: Path
    checkpoint: Path
    local_dir: Path
    captions: list[str]
    model: Any  # the trained open_clip model, in memory, for comparing against what the backend loads
    preprocess: Any
    tokenizer: Any


def build_tiny_clip(folder: Path, steps: int = 60, seed: int = 0) -> TinyClip:
    import open_clip
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config_json = folder / f"{TINY_CLIP_NAME}.json"
    config_json.write_text(json.dumps(TINY_CLIP_CONFIG, indent=2))
    open_clip.add_model_config(config_json)

    torch.manual_seed(seed)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP_NAME, pretrained=None)
    tokenizer = open_clip.get_tokenizer(TINY_CLIP_NAME)
    captions = list(PATTERNS)

    # A small pool of varied renderings per caption (sizes, shifts, noise), preprocessed once, so the image
    # tower learns the pattern rather than one exact bitmap.
    rng = np.random.default_rng(seed)
    variants = []
    for _ in range(12):
        row = []
        for caption in captions:
            w, h = int(rng.integers(48, 160)), int(rng.integers(40, 128))
            image = draw_pattern(
                caption, w, h, int(rng.integers(0, 8)), noise=8.0, seed=int(rng.integers(1 << 30))
            )
            row.append(preprocess(image))
        variants.append(torch.stack(row))
    tokens = tokenizer(captions)
    labels = torch.arange(len(captions))

    # The 49408-row token table is most of the parameters but only a dozen rows are used: freezing it keeps
    # each optimiser step cheap while the text transformer and projection still learn.
    model.token_embedding.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=2e-3, weight_decay=0.0)
    # One thread: on a shared 2-core machine, intra-op threads fighting other processes made this 10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.train()
    for step in range(steps):
        images = variants[step % len(variants)]
        image_features, text_features, scale = model(images, tokens)[:3]
        logits = scale * image_features @ text_features.T
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    torch.set_num_threads(threads)

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    checkpoint = folder / "tiny_clip.pt"
    torch.save(state, checkpoint)
    local_dir = folder / "local"
    local_dir.mkdir(exist_ok=True)
    preprocess_cfg = {"size": TINY_CLIP_CONFIG["vision_cfg"]["image_size"]}
    (local_dir / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": TINY_CLIP_CONFIG, "preprocess_cfg": preprocess_cfg}, indent=2)
    )
    save_file(state, str(local_dir / "open_clip_model.safetensors"))
    return TinyClip(config_json, checkpoint, local_dir, captions, model, preprocess, tokenizer)


_built: dict[tuple[int, int], TinyClip] = {}


def shared_tiny_clip(tmp_path_factory, steps: int = 80, seed: int = 0) -> TinyClip:
    """One trained tiny CLIP per test session and (steps, seed): training is the slow part (seconds), and
    several test modules load the same weights through different paths. The folder lives as long as the
    session's temporary directory."""
    key = (steps, seed)
    if key not in _built:
        _built[key] = build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"), steps=steps, seed=seed)
    return _built[key]
