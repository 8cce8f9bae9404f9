"""Work spread over warm local workers gives what one process gives: image-only pages OCR'd side by side, then
laid out by the parser, equal the parser OCR-ing page after page; visuals described side by side equal the
describer run in-process."""

from __future__ import annotations

import pytest
from pdf_factory import make_scanned_pdf, make_text_pdf

from paperlens.config import IngestSettings
from paperlens.ingest.isolate import WorkerPool, parse_pdf_isolated
from paperlens.ingest.ocr import ocr_document


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(IngestSettings(), size=2, max_tasks=100)
    yield pool
    pool.close()


def _texts(parsed):
    return [(e.page, e.kind.value, e.text, e.bbox) for e in parsed.elements]


@pytest.mark.slow
def test_parallel_ocr_then_layout_equals_the_parser_ocr_on_its_own(tmp_path, pool):
    lines = ["The quick brown fox", "jumps over the lazy dog", "a hidden message on slide"]
    path = make_scanned_pdf(tmp_path / "deck.pdf", lines=lines, pages=4)
    settings = IngestSettings(ocr_dpi=100)
    progress: list[tuple[int, int]] = []
    found = ocr_document(path, settings, pool, lambda done, total: progress.append((done, total)))
    assert sorted(found) == [1, 2, 3, 4]
    assert progress[-1] == (4, 4) and pool.started == 2  # both workers took a share
    ahead = parse_pdf_isolated(path, "a" * 64, tmp_path / "crops-a", settings, ocr_results=found)
    alone = parse_pdf_isolated(path, "a" * 64, tmp_path / "crops-b", settings)
    assert ahead.stats["ocr_pages"] == alone.stats["ocr_pages"] == 4
    assert _texts(ahead) == _texts(alone)
    assert "lazy dog" in " ".join(e.text for e in ahead.elements).lower()


def test_a_document_with_a_text_layer_needs_no_ocr(tmp_path, pool):
    path = make_text_pdf(tmp_path / "text.pdf", pages=2)
    assert ocr_document(path, IngestSettings(), pool) == {}
    assert ocr_document(make_scanned_pdf(tmp_path / "scan.pdf"), IngestSettings(ocr=False), pool) == {}


@pytest.mark.slow
def test_visuals_described_in_two_workers_equal_the_describer_in_process(tmp_path):
    from pdf_factory import make_paper_pdf

    from paperlens.config import load_settings
    from paperlens.ingest.describe import build_describer
    from paperlens.ingest.executors.local import LocalExecutor

    facts = make_paper_pdf(tmp_path / "paper.pdf")
    results = {}
    for workers in (1, 2):
        settings = load_settings(
            data_dir=tmp_path / f"data-{workers}", ingest={"workers": workers, "dpi": 100}
        )
        executor = LocalExecutor(settings, embedder=None, describer=build_describer(settings.describe))
        parsed = executor.parse(facts.path, "b" * 64, {}, "paper", lambda _d, _t: None)
        seen: list[tuple[int, int]] = []
        elements = executor.describe(
            parsed.elements, lambda done, total, seen=seen: seen.append((done, total))
        )
        assert [e.id for e in elements] == [e.id for e in parsed.elements]  # same elements, same order
        assert seen[-1][0] == seen[-1][1] >= 2
        results[workers] = [(e.id, e.description) for e in elements]
    assert results[1] == results[2]
    assert sum(1 for _, d in results[2] if d) >= 2
