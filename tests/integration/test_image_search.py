"""CLIP through the Engine and the service: crops in, vectors in their own FAISS file, text and image queries
that find the right crop, deletion from every index, and repair on open.

The tiny open_clip model is trained in the test (tests/tiny_clip.py) on four drawn patterns, saved as a plain
checkpoint plus a registered architecture config, and loaded through ``image_embed`` settings exactly as a
user's CLIP weights are. The PDF holds one pattern per page as a raster figure whose caption says nothing about
it, so only CLIP can tell the four figures apart.

The figure boxes come from the test, not from layout analysis (issue 4's subject): the real isolated parser
reads the PDF, then its visual elements are replaced by the four known figures, cropped the way ingestion crops
(``page.get_pixmap(clip=...)`` under ``crops/<document id>/``). Everything after parsing is the real Engine.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from tiny_clip import TINY_CLIP_NAME, draw_pattern, shared_tiny_clip

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.models import VISUAL_KINDS, Element, ElementKind, element_id_for

pytestmark = pytest.mark.slow

FIGURE_RECT = (150.0, 250.0, 450.0, 480.0)
FILLER = (
    "The experiments in this section follow the protocol described earlier; the figure below shows one of "
    "the results, and the discussion that follows compares it with the other runs."
)


def make_pattern_pdf(path: Path, captions: list[str]) -> Path:
    """One page per pattern: a heading, a paragraph, the pattern as a raster figure, a neutral caption."""
    import pymupdf

    doc = pymupdf.open()
    for n, caption in enumerate(captions, start=1):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 80), f"{n} Results of run {n}", fontsize=12)
        page.insert_textbox(pymupdf.Rect(72, 100, 523, 220), FILLER, fontsize=10)
        buffer = io.BytesIO()
        draw_pattern(caption, 300, 230, shift=2).save(buffer, format="PNG")
        page.insert_image(pymupdf.Rect(FIGURE_RECT), stream=buffer.getvalue())
        page.insert_textbox(pymupdf.Rect(72, 490, 523, 520), f"Figure {n}: Result of run {n}.", fontsize=9)
    doc.save(path)
    doc.close()
    return path


def parser_with_known_figures(real_parse):
    """The real isolated parser, with each page's visual elements replaced by the known figure and its crop."""

    def parse(path, document_id, crops_dir, settings, progress=None, fallback_title=""):
        import pymupdf

        parsed = real_parse(path, document_id, crops_dir, settings, progress, fallback_title)
        elements = [e for e in parsed.elements if e.kind not in VISUAL_KINDS]
        folder = Path(crops_dir) / document_id
        folder.mkdir(parents=True, exist_ok=True)
        with pymupdf.open(path) as doc:
            for pno, page in enumerate(doc, start=1):
                crop = folder / f"p{pno:04d}-figure.png"
                page.get_pixmap(clip=pymupdf.Rect(FIGURE_RECT), dpi=72).save(crop)
                elements.append(
                    Element(
                        id=element_id_for(document_id, pno, 900),
                        document_id=document_id,
                        page=pno,
                        bbox=FIGURE_RECT,
                        kind=ElementKind.FIGURE,
                        caption=f"Figure {pno}: Result of run {pno}.",
                        order=900,
                        crop_path=str(crop.relative_to(Path(crops_dir).parent)),
                    )
                )
        return parsed.model_copy(update={"elements": elements})

    return parse


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return shared_tiny_clip(tmp_path_factory, steps=80, seed=0)


@pytest.fixture(scope="module")
def pattern_pdf(tiny_clip, tmp_path_factory) -> Path:
    return make_pattern_pdf(tmp_path_factory.mktemp("pdf") / "patterns.pdf", tiny_clip.captions)


def clip_settings(data_dir: Path, tiny_clip, **image_embed):
    return load_settings(
        data_dir=data_dir,
        ingest={"ocr": False},
        describe={"backend": "none"},
        # Four figures whose captions differ only by their number: the CLIP list has to decide their order.
        retrieve={"image_weight": 3.0},
        image_embed={
            "enabled": True,
            "model": TINY_CLIP_NAME,
            "pretrained": str(tiny_clip.checkpoint),
            "config_path": str(tiny_clip.config_json),
            "batch_size": 3,
            **image_embed,
        },
    )


def ingest_with_known_figures(engine: Engine, pdf: Path):
    import paperlens.ingest.executors.local as engine_module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            engine_module, "parse_pdf_isolated", parser_with_known_figures(engine_module.parse_pdf_isolated)
        )
        return engine.ingest_path(pdf)


def png_of(caption: str, seed: int) -> bytes:
    """A query image: the pattern at another size and shift, with pixel noise (not one of the crops)."""
    buffer = io.BytesIO()
    draw_pattern(caption, 140, 100, shift=5, noise=12.0, seed=seed).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def clip_engine(tiny_clip, pattern_pdf, tmp_path_factory):
    engine = Engine(clip_settings(tmp_path_factory.mktemp("clip-data"), tiny_clip))
    result = ingest_with_known_figures(engine, pattern_pdf)
    assert result.created and result.counts.get("figure") == 4
    yield engine, result.document_id
    engine.close()


def figure_chunk_pages(engine: Engine, document_id: str) -> dict[int, int]:
    ids = engine.store.filtered_chunk_ids(document_ids=[document_id], kinds=["figure"])
    return {i: c.page for i, c in engine.store.get_chunks(ids).items()}


def test_ingestion_puts_every_crop_in_the_image_index(clip_engine):
    engine, document_id = clip_engine
    figures = figure_chunk_pages(engine, document_id)
    assert len(figures) == 4
    assert sorted(engine.image_vectors.ids().tolist()) == sorted(figures)
    assert sorted(engine.store.image_vector_ids().tolist()) == sorted(figures)
    assert (engine.settings.vectors_dir / "image.faiss").is_file()
    health = engine.health()
    assert health["backends"]["image_embed"]["active"] is True
    assert str(engine.settings.image_embed.pretrained) in health["backends"]["image_embed"]["model"]
    assert health["image_vectors"] == 4


def test_text_query_through_the_clip_text_tower_finds_the_right_crop(clip_engine, tiny_clip):
    engine, document_id = clip_engine
    for page, caption in enumerate(tiny_clip.captions, start=1):
        hits = engine.search(caption, k=4, kinds=["figure"])
        assert [h.kind for h in hits] == [ElementKind.FIGURE] * 4
        assert hits[0].page == page, (caption, [(h.page, h.sources) for h in hits])
        assert hits[0].sources["image"] == 1
        assert hits[0].element_id and hits[0].image_url is None  # URLs are the service's (service/urls.py)


def test_image_query_finds_the_right_crop_and_respects_filters(clip_engine, tiny_clip):
    engine, document_id = clip_engine
    for page, caption in enumerate(tiny_clip.captions, start=1):
        hits = engine.search("", k=2, image=png_of(caption, seed=page))
        assert hits[0].page == page and hits[0].kind == ElementKind.FIGURE
        assert set(hits[0].sources) == {"image_query"}
        assert hits[0].score > hits[1].score
    # A page filter keeps the best look-alike out when it sits on another page.
    hits = engine.search("", k=4, image=png_of(tiny_clip.captions[0], seed=9), pages=(2, 4))
    assert hits and all(2 <= h.page <= 4 for h in hits)
    assert engine.search("", k=4, image=png_of(tiny_clip.captions[0], seed=9), document_ids=["nope"]) == []


def test_image_search_over_http_multipart_and_json_side_by_side(clip_engine, tiny_clip):
    from fastapi.testclient import TestClient

    from paperlens.service.app import create_app

    engine, document_id = clip_engine
    with TestClient(create_app(engine.settings, engine=engine)) as client:
        image = png_of(tiny_clip.captions[2], seed=3)
        r = client.post(
            "/v1/search",
            files={"image": ("query.png", image, "image/png")},
            data={"k": "3", "kinds": ["figure"], "document_ids": [document_id]},
        )
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert len(hits) == 3 and hits[0]["page"] == 3 and hits[0]["kind"] == "figure"
        assert client.get(hits[0]["image_url"]).headers["content-type"] == "image/png"

        # Text plus image: both kinds of lists are fused.
        r = client.post(
            "/v1/search", files={"image": ("q.png", image, "image/png")}, data={"query": "results of run"}
        )
        assert r.status_code == 200
        sources = set().union(*(h["sources"].keys() for h in r.json()["hits"]))
        assert {"image_query", "dense", "keyword"} <= sources

        # The JSON body still works, and the CLIP text list takes part in it.
        r = client.post("/v1/search", json={"query": tiny_clip.captions[1], "k": 2, "kinds": ["figure"]})
        assert r.status_code == 200 and r.json()["hits"][0]["page"] == 2

        # Bad input is a 4xx with a stable code.
        r = client.post("/v1/search", data={"query": "no image here"}, files={"other": ("a.txt", b"x")})
        assert r.status_code == 400 and r.json()["error"]["code"] == "no_image"
        r = client.post("/v1/search", files={"image": ("q.png", b"not an image", "image/png")})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_image"
        r = client.post("/v1/search", files={"image": ("q.png", image, "image/png")}, data={"k": "0"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
        r = client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422
        spec = client.get("/openapi.json").json()["paths"]["/v1/search"]["post"]["requestBody"]["content"]
        assert {"application/json", "multipart/form-data"} <= spec.keys()


def test_delete_removes_the_document_from_every_index(tiny_clip, pattern_pdf, tmp_path):
    settings = clip_settings(tmp_path / "data", tiny_clip)
    engine = Engine(settings)
    document_id = ingest_with_known_figures(engine, pattern_pdf).document_id
    chunk_ids = engine.store.filtered_chunk_ids(document_ids=[document_id])
    assert len(chunk_ids) > 4 and engine.image_vectors.ntotal == 4
    assert engine.store.keyword_search("protocol", 10)

    engine.delete_document(document_id)
    assert engine.store.chunk_count() == 0
    assert engine.vectors.ntotal == 0 and engine.image_vectors.ntotal == 0
    assert len(engine.store.image_vector_ids()) == 0
    assert engine.store.keyword_search("protocol", 10) == []
    assert not (settings.crops_dir / document_id).exists()
    assert engine.search("", k=4, image=png_of(tiny_clip.captions[0], seed=1)) == []
    assert engine.search("results of run", k=4) == []
    engine.close()

    # The files on disk agree: a fresh open loads them as they are.
    reopened = Engine(settings)
    assert reopened.vectors.ntotal == 0 and reopened.image_vectors.ntotal == 0
    reopened.close()


def test_open_repairs_vectors_out_of_step_with_the_store(tiny_clip, pattern_pdf, tmp_path, caplog):
    import faiss

    settings = clip_settings(tmp_path / "data", tiny_clip)
    engine = Engine(settings)
    document_id = ingest_with_known_figures(engine, pattern_pdf).document_id
    text_ids = sorted(engine.vectors.ids().tolist())
    image_ids = sorted(engine.image_vectors.ids().tolist())
    query = png_of(tiny_clip.captions[1], seed=2)
    before = [(h.chunk_id, h.page) for h in engine.search("", k=4, image=query)]
    engine.close()

    # A crash between the SQLite commit and the FAISS save: the image file lacks a vector, the text file has
    # one the store does not know.
    image_file = settings.vectors_dir / "image.faiss"
    stale = faiss.read_index(str(image_file))
    stale.remove_ids(faiss.IDSelectorBatch(np.array(image_ids[:1], dtype=np.int64)))
    faiss.write_index(stale, str(image_file))
    text_file = settings.vectors_dir / "text.faiss"
    extra = faiss.read_index(str(text_file))
    extra.add_with_ids(np.ones((1, extra.d), np.float32) / np.sqrt(extra.d), np.array([10**9], np.int64))
    faiss.write_index(extra, str(text_file))

    with caplog.at_level("WARNING"):
        engine = Engine(settings)
    assert "rebuilt" in caplog.text
    assert sorted(engine.vectors.ids().tolist()) == text_ids
    assert sorted(engine.image_vectors.ids().tolist()) == image_ids
    assert [(h.chunk_id, h.page) for h in engine.search("", k=4, image=query)] == before
    engine.close()

    # A torn file (truncated mid-write) is rebuilt too.
    image_file.write_bytes(image_file.read_bytes()[:100])
    engine = Engine(settings)
    assert sorted(engine.image_vectors.ids().tolist()) == image_ids
    engine.close()
    assert document_id


def test_clip_switched_on_later_embeds_the_crops_already_ingested(tiny_clip, pattern_pdf, tmp_path):
    data = tmp_path / "data"
    plain = Engine(clip_settings(data, tiny_clip, enabled=False))
    assert plain.image_vectors is None
    health = plain.health()["backends"]["image_embed"]
    assert health["active"] is False and "disabled" in health["reason"]
    ingest_with_known_figures(plain, pattern_pdf)
    # Without CLIP an image search is refused with a clear, stable code (503 over HTTP).
    from paperlens.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError) as info:
        plain.search("", image=png_of(tiny_clip.captions[0], seed=1))
    assert info.value.code == "image_search_disabled"
    plain.close()

    engine = Engine(clip_settings(data, tiny_clip))
    assert engine.image_vectors.ntotal == 4
    hits = engine.search("", k=1, image=png_of(tiny_clip.captions[3], seed=4))
    assert hits[0].page == 4
    engine.close()

    # Another CLIP model (here: the same weights through the local-dir folder, a different identity) makes the
    # stored vectors someone else's: they are dropped and the crops embedded again.
    other = Engine(clip_settings(data, tiny_clip, pretrained=f"local-dir:{tiny_clip.local_dir}"))
    assert other.image_vectors.ntotal == 4
    assert other.search("", k=1, image=png_of(tiny_clip.captions[3], seed=4))[0].page == 4
    assert str(tiny_clip.local_dir) in other.store.get_meta("image_identity")
    other.close()


def test_real_layout_parser_crops_all_get_clip_vectors(tiny_clip, tmp_path):
    """No substituted figures: the real parser's visual elements (the factory paper's plot, image, table and
    formula) are cropped and every one of them lands in the image index."""
    from pdf_factory import make_paper_pdf

    engine = Engine(clip_settings(tmp_path / "data", tiny_clip))
    try:
        document_id = engine.ingest_path(make_paper_pdf(tmp_path / "paper.pdf").path).document_id
        visual = engine.store.filtered_chunk_ids(
            document_ids=[document_id], kinds=["figure", "table", "formula"]
        )
        assert len(visual) >= 2
        assert sorted(engine.image_vectors.ids().tolist()) == sorted(visual.tolist())
        assert engine.store.visual_chunks_without_image_vectors() == []
        crop = engine.store.get_element(
            engine.store.get_chunks([visual[0]])[visual[0]].element_ids[0]
        ).crop_path
        hits = engine.search("", k=1, image=(engine.settings.data_dir / crop).read_bytes())
        assert hits[0].chunk_id == visual[0]  # a crop is its own nearest neighbour
    finally:
        engine.close()
