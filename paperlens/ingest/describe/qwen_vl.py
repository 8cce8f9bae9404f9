"""Local chat VLM through ``transformers``: Qwen2.5-VL first, and any model that loads the same way.

Qwen2-VL / Qwen2.5-VL / Qwen3-VL go through ``qwen_vl_utils.process_vision_info`` (per-image ``min_pixels`` /
``max_pixels``, resized to the patch grid the vision tower expects). Other chat VLMs that
``AutoModelForImageTextToText`` loads (Gemma 3, Llama 3.2 Vision, SmolVLM...) share everything else: the
chat messages, batching with left padding, greedy generation, and the prompt/parse/retry cycle; their images
are scaled down to ``max_pixels`` here and handed to the processor's own chat template.

The model loads once, at first use, under a lock; never per request.
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError, ConfigError
from paperlens.ingest.describe.base import DescribeRequest, Description
from paperlens.ingest.describe.prompts import PROMPT_VERSION, describe_with_retry, instruction_for

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
#: model_type -> vision patch size; these models take images through qwen_vl_utils.
QWEN_VL_PATCH = {"qwen2_vl": 14, "qwen2_5_vl": 14, "qwen3_vl": 16, "qwen3_vl_moe": 16}
_DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16"}
_DTYPES |= {"float16": "float16", "fp16": "float16", "half": "float16"}


def resolve_dtype(name: str, device: str):
    """``auto``: bfloat16 on a GPU, float32 on CPU (half precision on CPU is slow and often unsupported)."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return (
            torch.bfloat16
            if device.startswith(("cuda", "auto")) and torch.cuda.is_available()
            else torch.float32
        )
    if name not in _DTYPES:
        raise ConfigError(f"describe.dtype must be auto, float32, bfloat16 or float16, not {name!r}")
    return getattr(torch, _DTYPES[name])


def fit_pixels(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Scale (width, height) down, keeping the aspect ratio, so width * height <= max_pixels."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


class TransformersVLMDescriber:
    """Crops -> JSON descriptions with a local chat VLM (default Qwen/Qwen2.5-VL-3B-Instruct)."""

    name = "qwen-vl"
    prompt_version = PROMPT_VERSION

    def __init__(self, settings: DescribeSettings) -> None:
        if settings.local.min_pixels > settings.local.max_pixels:
            raise ConfigError("describe.min_pixels must not exceed describe.max_pixels")
        self.settings = settings
        self.model = settings.model or DEFAULT_MODEL
        self.batch_size = settings.batch_size
        self._lock = threading.Lock()
        self._model: Any = None
        self._processor: Any = None
        self.model_type: str | None = None

    # -- loading -------------------------------------------------------------------------------------------
    def check_available(self) -> None:
        """Fail now, with a clear message, when the weights cannot be had (cheap: reads config.json only)."""
        from transformers import AutoConfig

        local = Path(self.model).expanduser()
        if (self.model.startswith((".", "/", "~")) or local.exists()) and not (
            local / "config.json"
        ).is_file():
            raise BackendUnavailableError(
                f"describe.model {self.model!r} is not a model folder (no config.json there)"
            )
        try:
            config = AutoConfig.from_pretrained(self.model)
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(
                f"VLM weights for describe.model={self.model!r} are not available here "
                f"(give a local checkpoint folder or a model name already in the Hugging Face cache): {exc}"
            ) from exc
        self.model_type = config.model_type
        if self.model_type in QWEN_VL_PATCH:
            try:
                import qwen_vl_utils  # noqa: F401
            except ImportError as exc:
                raise BackendUnavailableError(
                    "the qwen-vl describer needs qwen-vl-utils (pip install 'paperlens[vlm]')"
                ) from exc

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from transformers import AutoModelForImageTextToText, AutoProcessor

            self.check_available()
            s = self.settings.local
            if self.model_type in QWEN_VL_PATCH:
                # The processor's own cap, in case an image reaches it without qwen_vl_utils' resize.
                size = {"shortest_edge": s.min_pixels, "longest_edge": s.max_pixels}
                processor = AutoProcessor.from_pretrained(self.model, size=size)
            else:
                processor = AutoProcessor.from_pretrained(self.model)
            tokenizer = getattr(processor, "tokenizer", processor)
            tokenizer.padding_side = "left"  # batched generation continues from the right edge of each prompt
            if self.model_type == "qwen2_5_vl":
                from transformers import Qwen2_5_VLForConditionalGeneration as model_class
            else:
                model_class = AutoModelForImageTextToText
            dtype = resolve_dtype(s.dtype, s.device)
            if s.device == "auto":
                model = model_class.from_pretrained(self.model, dtype=dtype, device_map="auto")
            else:
                model = model_class.from_pretrained(self.model, dtype=dtype).to(s.device)
            self._processor, self._model = processor, model.eval()
            log.info("loaded VLM %s (%s) on %s as %s", self.model, self.model_type, s.device, dtype)

    @property
    def processor(self):
        self.load()
        return self._processor

    # -- prompts and inputs ---------------------------------------------------------------------------------
    def messages_for(self, request: DescribeRequest, retry: bool = False) -> list[dict]:
        """One user turn: the crop (a local path, never a URL) with pixel limits, then the instruction."""
        s = self.settings.local
        image: dict[str, Any] = {"type": "image", "image": str(Path(request.image_path).resolve())}
        image |= {"min_pixels": s.min_pixels, "max_pixels": s.max_pixels}
        text = instruction_for(str(request.element.kind), request.context, retry=retry)
        return [{"role": "user", "content": [image, {"type": "text", "text": text}]}]

    def prepare_inputs(self, conversations: list[list[dict]]):
        """Tokenised prompts and pixel values for one batch."""
        processor = self.processor
        if self.model_type in QWEN_VL_PATCH:
            from qwen_vl_utils import process_vision_info

            texts = [
                processor.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                for c in conversations
            ]
            images, _videos = process_vision_info(
                conversations, image_patch_size=QWEN_VL_PATCH[self.model_type]
            )
            return processor(text=texts, images=images, padding=True, return_tensors="pt")
        return processor.apply_chat_template(
            [self._with_pil_images(c) for c in conversations],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            padding=True,
        )

    def _with_pil_images(self, conversation: list[dict]) -> list[dict]:
        """Non-Qwen processors: open each crop and scale it to max_pixels; drop Qwen-only keys."""
        from PIL import Image

        out = []
        for message in conversation:
            content = []
            for part in message["content"]:
                if part.get("type") == "image":
                    with Image.open(part["image"]) as img:
                        rgb = img.convert("RGB")
                    rgb = rgb.resize(
                        fit_pixels(*rgb.size, part.get("max_pixels", self.settings.local.max_pixels))
                    )
                    part = {"type": "image", "image": rgb}
                content.append(part)
            out.append({**message, "content": content})
        return out

    # -- generation ---------------------------------------------------------------------------------------
    def generate(self, requests: list[DescribeRequest], retry: bool = False) -> list[str]:
        import torch

        self.load()
        inputs = self.prepare_inputs([self.messages_for(r, retry) for r in requests])
        inputs = inputs.to(self._model.device)
        with torch.inference_mode():
            output = self._model.generate(
                **inputs, max_new_tokens=self.settings.max_new_tokens, do_sample=False
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self._processor.batch_decode(
            new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        results: list[Description] = []
        size = self.settings.batch_size
        for start in range(0, len(requests), size):
            results += describe_with_retry(requests[start : start + size], self.generate)
        return results
