"""CLIP image embeddings with open_clip: figure/table/formula crops and text queries in one vector space.

Weights are named the way open_clip names them: an architecture (``ViT-B-32``, or one defined in a config
JSON the user registers with ``config_path``) plus ``pretrained`` = a tag (downloaded by open_clip, so only
where a hub or a warm cache is reachable), a checkpoint file, or ``local-dir:FOLDER`` (a folder holding
``open_clip_config.json`` + ``open_clip_model.safetensors``, as open_clip's own ``push_to_hub`` writes it).
No weights ship offline, so the backend is disabled by default; when it is enabled and the weights cannot be
loaded that is a :class:`BackendUnavailableError`, never a quiet fall back to random weights.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from paperlens.config import ImageEmbedSettings
from paperlens.errors import BackendUnavailableError, BadInputError
from paperlens.index.embed.base import ImageEmbedder, normalise

if TYPE_CHECKING:
    from PIL import Image

LOCAL_DIR = "local-dir:"
HUB = "hf-hub:"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz")

# open_clip keeps its model-config registry in a module global; registering the same folder twice is harmless
# but rescans every time, so remember what was added.
_registered_configs: set[str] = set()
_register_lock = threading.Lock()


def register_model_configs(path: Path) -> list[str]:
    """Make the architectures defined in ``path`` (one JSON file, or a folder of them) known to open_clip.

    Returns the architecture names the path defines (file stems), so callers can say what they registered.
    """
    import open_clip

    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise BackendUnavailableError(f"CLIP model config not found: {path}")
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    if not files:
        raise BackendUnavailableError(f"no open_clip model config (*.json) in {path}")
    with _register_lock:
        if str(path) not in _registered_configs:
            open_clip.add_model_config(path)
            _registered_configs.add(str(path))
    names = [f.stem for f in files if f.stem in open_clip.list_models()]
    if not names:
        raise BackendUnavailableError(
            f"{path} holds no valid open_clip model config (needs embed_dim, vision_cfg and text_cfg)"
        )
    return names


def resolve_source(model: str, pretrained: str | None) -> tuple[str, str | None]:
    """Turn (model, pretrained) settings into open_clip's (model_name, pretrained) arguments, or refuse.

    Pure apart from checking that a named checkpoint exists: the checks that can fail without touching torch
    fail here, with a message that says what to set.
    """
    model = model.strip()
    pretrained = pretrained.strip() if pretrained else None
    if not model and not pretrained:
        raise BackendUnavailableError("image embeddings are enabled but no open_clip model is configured")
    # open_clip takes the folder schema on the model name; accept it on either setting, as users write both.
    for value in (model, pretrained):
        if value and value.startswith(LOCAL_DIR):
            folder = Path(value[len(LOCAL_DIR) :]).expanduser()
            if not (folder / "open_clip_config.json").is_file():
                raise BackendUnavailableError(f"CLIP folder {folder} has no open_clip_config.json")
            return f"{LOCAL_DIR}{folder}", None
    if model.startswith(HUB):
        return model, None  # open_clip downloads (or reads its cache); failures surface at load
    if not pretrained:
        raise BackendUnavailableError(
            f"image embeddings are enabled but no weights are configured for {model!r}: set "
            "image_embed.pretrained to a checkpoint file, 'local-dir:FOLDER' or an open_clip tag"
        )
    looks_like_path = pretrained.endswith(CHECKPOINT_SUFFIXES) or "/" in pretrained or "\\" in pretrained
    if looks_like_path:
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise BackendUnavailableError(f"CLIP checkpoint not found: {path}")
        return model, str(path)
    return model, pretrained  # a pretrained tag


class OpenClipImageEmbedder:
    """open_clip model loaded once; images and texts embedded in batches into L2-normalised float32 rows."""

    name = "open-clip"

    def __init__(
        self,
        model: str,
        pretrained: str | None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        config_path: Path | None = None,
    ) -> None:
        if config_path is not None:
            register_model_configs(config_path)
        model_name, weights = resolve_source(model, pretrained)
        self.batch_size = batch_size
        self.device = device
        # The index identity records this string: architecture and weights, so a different CLIP is refused.
        self.model = model_name if weights is None else f"{model_name}:{weights}"
        self._model, self._preprocess, self._tokenizer = _load(model_name, weights, device)
        self.dim = _output_dim(self._model, model_name)

    def embed_images(self, paths: Sequence[Path | str | bytes | Image.Image]) -> np.ndarray:
        """Crops by path; an uploaded query image may come as its bytes or as a PIL image."""
        import torch

        if not paths:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        for start in range(0, len(paths), self.batch_size):
            batch = [self._preprocess(_open_image(item)) for item in paths[start : start + self.batch_size]]
            with torch.no_grad():
                features = self._model.encode_image(torch.stack(batch).to(self.device))
            rows.append(features.float().cpu().numpy())
        return normalise(np.concatenate(rows))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self._tokenizer(list(texts[start : start + self.batch_size])).to(self.device)
            with torch.no_grad():
                features = self._model.encode_text(tokens)
            rows.append(features.float().cpu().numpy())
        return normalise(np.concatenate(rows))


def _load(model_name: str, weights: str | None, device: str) -> tuple[Any, Any, Any]:
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - both are dependencies of the package
        raise BackendUnavailableError(f"open_clip is not installed: {exc}") from exc
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=weights, device=device, require_pretrained=True
        )
        tokenizer = open_clip.get_tokenizer(model_name)
    except Exception as exc:  # open_clip raises RuntimeError/ValueError/OSError/hub errors alike
        source = model_name if weights is None else f"{model_name} with weights {weights!r}"
        raise BackendUnavailableError(f"could not load CLIP model {source}: {exc}") from exc
    model.eval()
    return model, preprocess, tokenizer


def _output_dim(model: Any, model_name: str) -> int:
    import open_clip

    config = open_clip.get_model_config(model_name)
    if config and "embed_dim" in config:
        return int(config["embed_dim"])
    return int(model.visual.output_dim)  # pragma: no cover - every open_clip config has embed_dim


def _open_image(item: Path | str | bytes | Image.Image) -> Image.Image:
    from PIL import Image, UnidentifiedImageError
    from PIL.Image import DecompressionBombError

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    try:
        if isinstance(item, bytes | bytearray):
            image = Image.open(io.BytesIO(item))
        else:
            image = Image.open(Path(item))
        image.load()
    except FileNotFoundError as exc:
        raise BadInputError(f"image not found: {item}") from exc
    except (UnidentifiedImageError, DecompressionBombError, OSError, ValueError) as exc:
        label = "uploaded image" if isinstance(item, bytes | bytearray) else str(item)
        raise BadInputError(f"not a readable image: {label}", code="bad_image") from exc
    # Crops can be palette or RGBA PNGs; CLIP was trained on RGB.
    return image.convert("RGB")


def build_image_embedder(settings: ImageEmbedSettings) -> ImageEmbedder | None:
    """The configured CLIP backend, or None when image embeddings are disabled. Loads the weights now."""
    if not settings.enabled:
        return None
    return OpenClipImageEmbedder(
        settings.model,
        settings.pretrained,
        device=settings.device,
        batch_size=settings.batch_size,
        config_path=settings.config_path,
    )
