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


def _ocr_threads_in_worker() -> tuple[int, int, int]:
    """The threads this worker's OCR engines use: as set, then the intra-op threads of the page engine's and
    the offline describer's ONNX sessions (0: ONNX Runtime's default, every core)."""
    from paperlens.ingest import ocr
    from paperlens.ingest.describe.offline import ocr_engine

    def threads(engine) -> int:
        return engine.text_rec.session.session.get_session_options().intra_op_num_threads

    return ocr.engine_threads(), threads(ocr._engine()), threads(ocr_engine())


def test_a_worker_runs_its_ocr_on_the_threads_its_pool_gives_it():
    # One worker alone on the machine may use every core; two side by side take one each; one inside a Ray
    # task that declared one CPU takes one (two such tasks on two cores, each on both, OCR'd 1.6x slower).
    for size, given, expected in ((1, None, (-1, 0, 0)), (2, None, (1, 1, 1)), (1, 1, (1, 1, 1))):
        pool = WorkerPool(IngestSettings(), size=size, max_tasks=10, ocr_threads=given)
        try:
            assert pool.run(_ocr_threads_in_worker, timeout_s=120) == expected
        finally:
            pool.close()
