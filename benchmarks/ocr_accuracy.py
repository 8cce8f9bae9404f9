"""OCR settings measured against the truth: pages that have a text layer, turned into scans and read back.

    .venv/bin/python benchmarks/ocr_accuracy.py [DIR ...] [--pages 24] [--landscape] [--runs 150:6,100:1]

Each sampled page (a seeded random choice among the pages of DIR's PDFs that hold at least 15 words;
default ../shared/bench/mmlb_dev/pdfs and ../shared/bench/papers) is rendered at 200 dpi and stored as an
image-only page, as a scanner would. Every run ``DPI:BATCH`` OCRs that scan with rapidocr at DPI, recognising
BATCH text lines per call, the way ``paperlens.ingest.ocr`` does (one thread, lines respaced, scores below 0.5
dropped). Its words (3+ letters, or digits) are compared with the page's own text layer: recall (share of the
page's words read) and precision (share of the words read that the page has), pooled over pages, and the
seconds per page. ``--landscape`` keeps slide-shaped pages only. The README's OCR default comes from this.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter
from pathlib import Path

WORD = re.compile(r"[A-Za-z]{3,}|\d+")


def words(text: str) -> Counter:
    return Counter(w.lower() for w in WORD.findall(text))


def sample_pages(folders: list[Path], count: int, landscape: bool, seed: int) -> list[tuple[Path, int]]:
    import pymupdf

    found = []
    for folder in folders:
        for path in sorted(folder.glob("*.pdf")):
            with pymupdf.open(path) as doc:
                for page in doc:
                    if landscape and page.rect.width <= page.rect.height:
                        continue
                    if len(page.get_text().split()) >= 15:
                        found.append((path, page.number))
    return random.Random(seed).sample(found, min(count, len(found)))


def main() -> None:
    bench = Path(__file__).resolve().parents[2] / "shared" / "bench"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "folders", nargs="*", type=Path, default=[bench / "mmlb_dev" / "pdfs", bench / "papers"]
    )
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--landscape", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", default="150:6,120:1,100:1")
    args = parser.parse_args()

    import numpy as np
    import pymupdf
    from rapidocr_onnxruntime import RapidOCR

    from paperlens.ingest.respace import respace

    runs = [tuple(int(x) for x in run.split(":")) for run in args.runs.split(",")]
    engines = {
        batch: RapidOCR(rec_batch_num=batch, intra_op_num_threads=1, inter_op_num_threads=1)
        for batch in {b for _, b in runs}
    }
    totals = {run: {"hit": 0, "truth": 0, "read": 0, "seconds": 0.0} for run in runs}
    pages = sample_pages(args.folders, args.pages, args.landscape, args.seed)
    for path, number in pages:
        with pymupdf.open(path) as source:
            page = source[number]
            truth = words(page.get_text())
            scan = pymupdf.open()
            scanned = scan.new_page(width=page.rect.width, height=page.rect.height)
            scanned.insert_image(scanned.rect, pixmap=page.get_pixmap(dpi=200, alpha=False))
        for run in runs:
            dpi, batch = run
            started = time.perf_counter()
            pix = scanned.get_pixmap(dpi=dpi, colorspace="rgb", alpha=False)
            image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
            result, _ = engines[batch](image[:, :, ::-1].copy())
            totals[run]["seconds"] += time.perf_counter() - started
            read = words(" ".join(respace(str(t)) for _, t, score in result or [] if float(score) >= 0.5))
            totals[run]["hit"] += sum((truth & read).values())
            totals[run]["truth"] += sum(truth.values())
            totals[run]["read"] += sum(read.values())
        scan.close()
    print(f"{len(pages)} pages{' (landscape)' if args.landscape else ''}, seed {args.seed}\n")
    print("| dpi | lines per call | word recall | word precision | s/page |")
    print("|---:|---:|---:|---:|---:|")
    for (dpi, batch), t in totals.items():
        recall = t["hit"] / max(1, t["truth"])
        precision = t["hit"] / max(1, t["read"])
        print(
            f"| {dpi} | {batch} | {recall:.3f} | {precision:.3f} | {t['seconds'] / max(1, len(pages)):.2f} |"
        )


if __name__ == "__main__":
    main()
