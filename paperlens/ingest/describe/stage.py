"""The describe stage of ingestion: fill ``Element.description`` for figure, table and formula crops.

Runs between parsing and chunking. Every description is cached (see ``cache.py``) as soon as its batch is
done, so a crashed or cancelled ingestion resumes where it stopped and re-ingesting costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from paperlens.ingest.describe.base import Describer, DescribeRequest, Description
from paperlens.ingest.describe.cache import CacheKey, DescriptionCache, file_sha256, input_sha256
from paperlens.models import Element

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]


def request_context(element: Element, max_references: int = 5) -> str:
    """What the paper says about the element: its caption and the sentences that cite it."""
    parts = [element.caption or ""] + [r for r in element.references[:max_references]]
    return "\n".join(p.strip() for p in parts if p and p.strip())


def apply_description(element: Element, description: Description, describer: Describer) -> None:
    element.description = description.text.strip() or None
    element.meta["describe"] = {
        "backend": describer.name,
        "model": describer.model,
        "prompt_version": describer.prompt_version,
        "structured": description.structured,
        "kind": description.kind,
    }


def describe_elements(
    elements: list[Element],
    data_dir: Path,
    describer: Describer,
    cache_dir: Path,
    progress: ProgressFn | None = None,
    batch_size: int | None = None,
) -> list[Element]:
    """Describe every visual element with a crop; return the same list, with descriptions filled in place.

    ``progress(done, total)`` counts visual elements with crops, cache hits included. Identical crops with
    identical context (a logo on every slide) are described once.
    """
    targets = [e for e in elements if e.is_visual and e.crop_path]
    total = len(targets)
    done = 0
    report = progress or (lambda _done, _total: None)
    report(0, total)
    if not targets:
        return elements
    batch = max(1, batch_size or getattr(describer, "batch_size", 4))
    with DescriptionCache(cache_dir) as cache:
        pending: dict[CacheKey, tuple[DescribeRequest, list[Element]]] = {}
        for element in targets:
            path = (data_dir / element.crop_path).resolve()
            if not path.is_file():
                log.warning("crop of %s is missing (%s); left undescribed", element.id, path)
                done += 1
                continue
            request = DescribeRequest(element=element, image_path=path, context=request_context(element))
            key = CacheKey(
                file_sha256(path),
                describer.name,
                describer.model,
                describer.prompt_version,
                input_sha256(request),
            )
            if key in pending:
                pending[key][1].append(element)
                continue
            cached = cache.get(key)
            if cached is not None:
                apply_description(element, cached, describer)
                done += 1
                continue
            pending[key] = (request, [element])
        report(done, total)

        keys = list(pending)
        for start in range(0, len(keys), batch):
            chunk = keys[start : start + batch]
            descriptions = describer.describe([pending[k][0] for k in chunk])
            if len(descriptions) != len(chunk):
                raise RuntimeError(
                    f"{describer.name} returned {len(descriptions)} descriptions for {len(chunk)}"
                )
            for key, description in zip(chunk, descriptions, strict=True):
                cache.put(key, description)
                for element in pending[key][1]:
                    apply_description(element, description, describer)
                    done += 1
            report(done, total)
    return elements
