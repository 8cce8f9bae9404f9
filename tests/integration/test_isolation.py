"""The isolated parser: a PDF that hangs, crashes or eats memory fails with a typed error; the parent goes on.

The misbehaving "parsers" below are module-level functions handed to ``parse_pdf_isolated(parse_fn=...)``:
the real child process, limits and messages are exercised; only what runs inside the child misbehaves on
purpose. Broken and encrypted PDFs go through the real parser.
"""

from __future__ import annotations

import os
import time

import pytest
from pdf_factory import (
    make_corrupt_pdf,
    make_encrypted_pdf,
    make_paper_pdf,
    make_text_pdf,
    make_truncated_pdf,
    make_zero_page_pdf,
)

from paperlens.config import IngestSettings
from paperlens.errors import CorruptPdfError, EncryptedPdfError, ParseFailedError
from paperlens.ingest.isolate import parse_pdf_isolated
from paperlens.models import ElementKind
from paperlens.service.errors import status_for


def hanging_parser(path, document_id, crops_dir, settings, progress=None, fallback_title=""):
    progress(1, 100)  # it starts, then never finishes: an endless loop in a hostile file
    while True:
        time.sleep(1)


def memory_eating_parser(path, document_id, crops_dir, settings, progress=None, fallback_title=""):
    hoard = []
    while True:  # a decompression bomb: keeps allocating until something stops it
        hoard.append(bytearray(64 * 1024 * 1024))


def crashing_parser(path, document_id, crops_dir, settings, progress=None, fallback_title=""):
    os.abort()  # a segfault in native code looks like this to the parent: the process just dies


def _parses_fine_afterwards(tmp_path) -> None:
    facts = make_paper_pdf(tmp_path / "good.pdf")
    parsed = parse_pdf_isolated(facts.path, "9" * 64, tmp_path / "crops", IngestSettings(dpi=72))
    assert parsed.pages == 3
    assert any(e.kind == ElementKind.TABLE for e in parsed.elements)


def test_a_hang_is_stopped_at_the_time_limit(tmp_path):
    path = make_text_pdf(tmp_path / "a.pdf")
    progress = []
    started = time.monotonic()
    with pytest.raises(ParseFailedError) as info:
        parse_pdf_isolated(
            path,
            "1" * 64,
            tmp_path / "crops",
            # 3 s, plus 0.02 s for each of the 100 pages the parser announced: stopped after 5 s.
            IngestSettings(parse_timeout_s=3, parse_timeout_per_page_s=0.02),
            progress=lambda done, total: progress.append((done, total)),
            parse_fn=hanging_parser,
        )
    assert info.value.code == "parse_timeout"
    assert "longer than 5 s" in info.value.message
    assert time.monotonic() - started < 60
    _parses_fine_afterwards(tmp_path)


def test_a_memory_blow_up_hits_the_memory_limit(tmp_path):
    path = make_text_pdf(tmp_path / "a.pdf")
    with pytest.raises(ParseFailedError) as info:
        parse_pdf_isolated(
            path,
            "2" * 64,
            tmp_path / "crops",
            IngestSettings(parse_memory_mb=512, parse_timeout_s=120),
            parse_fn=memory_eating_parser,
        )
    assert info.value.code == "parse_out_of_memory"
    assert "512 MB" in info.value.message
    _parses_fine_afterwards(tmp_path)


def test_a_crash_of_the_parser_process_is_reported(tmp_path):
    path = make_text_pdf(tmp_path / "a.pdf")
    with pytest.raises(ParseFailedError) as info:
        parse_pdf_isolated(path, "3" * 64, tmp_path / "crops", IngestSettings(), parse_fn=crashing_parser)
    assert info.value.code == "parser_crashed"
    assert "died" in info.value.message


@pytest.mark.parametrize(
    ("make", "error", "code"),
    [
        (make_corrupt_pdf, CorruptPdfError, "corrupt_pdf"),
        (make_zero_page_pdf, CorruptPdfError, "corrupt_pdf"),
        (lambda p: make_encrypted_pdf(p, user_password="secret"), EncryptedPdfError, "encrypted_pdf"),
    ],
    ids=["corrupt", "zero-pages", "encrypted-needs-password"],
)
def test_unusable_pdfs_fail_with_their_own_typed_error(tmp_path, make, error, code):
    path = make(tmp_path / "bad.pdf")
    with pytest.raises(error) as info:
        parse_pdf_isolated(path, "4" * 64, tmp_path / "crops", IngestSettings())
    assert info.value.code == code and status_for(info.value) < 500


def test_encrypted_pdf_without_a_user_password_is_parsed(tmp_path):
    path = make_encrypted_pdf(tmp_path / "locked.pdf")  # owner password only: opens for everyone
    parsed = parse_pdf_isolated(path, "5" * 64, tmp_path / "crops", IngestSettings())
    assert parsed.pages == 1
    assert "Page 1." in " ".join(e.text for e in parsed.elements)


def test_truncated_pdf_is_repaired_and_what_survives_is_parsed(tmp_path):
    path = make_truncated_pdf(tmp_path / "cut.pdf")
    parsed = parse_pdf_isolated(path, "6" * 64, tmp_path / "crops", IngestSettings(dpi=72))
    assert parsed.stats["repaired"] is True
    assert 1 <= parsed.pages <= 3
    assert any(e.text for e in parsed.elements)


# -- warm workers: reused between documents, replaced after a crash, a time-out or N tasks -----------------


def _pid_parser(path, document_id, crops_dir, settings, progress=None, fallback_title=""):
    """Parses for real and records which worker process did it (in the title)."""
    from paperlens.ingest.parse import parse_pdf

    parsed = parse_pdf(path, document_id, crops_dir, settings, progress, fallback_title)
    return parsed.model_copy(update={"title": str(os.getpid())})


def _pool(**settings):
    from paperlens.ingest.isolate import WorkerPool

    ingest = IngestSettings(dpi=72, **settings)
    return WorkerPool(ingest, size=1, max_tasks=ingest.worker_max_tasks), ingest


def _parse_in(pool, ingest, path, tmp_path, parse_fn=_pid_parser, timeout_s=120.0):
    return pool.run(
        parse_fn,
        path,
        "7" * 64,
        tmp_path / "crops",
        ingest,
        timeout_s=timeout_s,
        progress=lambda _done, _total: None,
    )


def test_a_warm_worker_parses_document_after_document(tmp_path):
    pool, ingest = _pool()
    try:
        paths = [make_text_pdf(tmp_path / f"{i}.pdf", text=f"Document {i}. " * 30) for i in range(3)]
        pids = {_parse_in(pool, ingest, p, tmp_path).title for p in paths}
        assert len(pids) == 1 and pool.started == 1  # one interpreter, started once
    finally:
        pool.close()


def test_a_crashed_worker_is_replaced_and_the_next_document_parses(tmp_path):
    pool, ingest = _pool()
    try:
        path = make_text_pdf(tmp_path / "a.pdf")
        first = _parse_in(pool, ingest, path, tmp_path).title
        with pytest.raises(ParseFailedError) as info:
            _parse_in(pool, ingest, path, tmp_path, parse_fn=crashing_parser)
        assert info.value.code == "parser_crashed"
        after = _parse_in(pool, ingest, path, tmp_path).title
        assert after != first and pool.started == 2
    finally:
        pool.close()


def test_a_timed_out_worker_is_killed_and_replaced(tmp_path):
    pool, ingest = _pool()
    try:
        path = make_text_pdf(tmp_path / "a.pdf")
        first = _parse_in(pool, ingest, path, tmp_path).title  # warm (a worker's start-up takes seconds)
        with pytest.raises(ParseFailedError, match="longer than 2 s"):
            _parse_in(pool, ingest, path, tmp_path, parse_fn=hanging_parser, timeout_s=2)
        assert _parse_in(pool, ingest, path, tmp_path).title != first
        assert not _process_alive(int(first))  # the hung worker is gone, not left running
    finally:
        pool.close()


def test_a_worker_is_retired_after_its_task_allowance(tmp_path):
    pool, ingest = _pool(worker_max_tasks=2)
    try:
        path = make_text_pdf(tmp_path / "a.pdf")
        pids = [_parse_in(pool, ingest, path, tmp_path).title for _ in range(4)]
        assert pids[0] == pids[1] != pids[2] == pids[3] and pool.started == 2
    finally:
        pool.close()


def test_a_typed_parse_error_keeps_the_worker(tmp_path):
    pool, ingest = _pool()
    try:
        good = make_text_pdf(tmp_path / "a.pdf")
        first = _parse_in(pool, ingest, good, tmp_path).title
        with pytest.raises(CorruptPdfError):
            _parse_in(pool, ingest, make_corrupt_pdf(tmp_path / "bad.pdf"), tmp_path)
        assert _parse_in(pool, ingest, good, tmp_path).title == first and pool.started == 1
    finally:
        pool.close()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
