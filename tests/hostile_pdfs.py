"""Broken and hostile PDFs, written byte by byte (PyMuPDF refuses to save most of them), for the reliability
suite. Each builder returns the file's bytes; ``HOSTILE`` lists them with the answer the service must give.

Expectations: ``(status, code)`` for an exact refusal, ``"4xx"`` for any clear refusal, ``"safe"`` for a
file that may be refused or ingested: either way it must never be a 5xx, never hang the service, and a job
it starts must end (succeeded, or failed with a typed error).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pdf_factory import make_encrypted_pdf, make_truncated_pdf

Expect = tuple[int, str] | str


def pdf_stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def raw_pdf(objects: list[bytes], *, root: int = 1, trailer: bytes = b"", xref: bool = True) -> bytes:
    """Objects 1..n in order, a classic xref table (unless ``xref`` is False) and a trailer."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R %s >>\n" % (len(objects) + 1, root, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def text_page(
    text: str = "A hostile test document.",
    *,
    mediabox: bytes = b"[0 0 595 842]",
    catalog_extra: bytes = b"",
    page_extra: bytes = b"",
    extra_objects: list[bytes] | None = None,
    content: bytes | None = None,
    content_extra: bytes = b"",
) -> list[bytes]:
    """Catalog (1), Pages (2), one Page (3), its content stream (4), Helvetica (5), then ``extra_objects``."""
    body = content if content is not None else b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode("latin-1")
    return [
        b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog_extra,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> %s >>" % (mediabox, page_extra),
        pdf_stream(body, content_extra),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *(extra_objects or []),
    ]


def deflate_zeros(size: int, layers: int = 1) -> bytes:
    """``size`` zero bytes compressed ``layers`` times: a few hundred bytes that inflate enormously."""
    packer = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    data = b"".join(parts) + packer.flush()
    for _ in range(layers - 1):
        data = zlib.compress(data, 9)
    return data


# -- the corpus ----------------------------------------------------------------------------------------


def _empty(_: Path) -> bytes:
    return b""


def _text_named_pdf(_: Path) -> bytes:
    return b"Dear reviewer, this is a plain text file with a .pdf name.\n" * 20


def _png_named_pdf(_: Path) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _header_too_late(_: Path) -> bytes:
    return b"<html>" + b" " * 2000 + raw_pdf(text_page())  # the PDF magic only after the first KiB


def _header_only(_: Path) -> bytes:
    return b"%PDF-1.7\n"


def _garbage_after_header(_: Path) -> bytes:
    return b"%PDF-1.7\n" + bytes((i * 37 + 11) % 256 for i in range(4000))


def _truncated(tmp: Path) -> bytes:
    return make_truncated_pdf(tmp / "truncated.pdf", keep=0.3).read_bytes()


def _truncated_mid_stream(_: Path) -> bytes:
    data = raw_pdf(text_page("cut off in the middle of its content stream"))
    return data[: data.index(b"stream") + 20]


def _bad_xref_offsets(_: Path) -> bytes:
    data = bytearray(raw_pdf(text_page("xrefbroken offsets all wrong")))
    table = data.index(b"xref\n")
    for i in range(table, len(data) - 10):  # every offset in the table points at byte 7
        if data[i : i + 10].isdigit() and data[i + 10 : i + 11] == b" ":
            data[i : i + 10] = b"%010d" % 7
    return bytes(data)


def _startxref_past_end(_: Path) -> bytes:
    data = raw_pdf(text_page("startxref points nowhere"))
    head, _, _ = data.rpartition(b"startxref")
    return head + b"startxref\n99999999\n%%EOF\n"


def _xref_prev_loop(_: Path) -> bytes:
    data = raw_pdf(text_page("xref loop"))
    start = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    return data.replace(b"/Root 1 0 R", b"/Root 1 0 R /Prev %d" % start)


def _encrypted_with_password(tmp: Path) -> bytes:
    return make_encrypted_pdf(tmp / "locked.pdf", user_password="secret").read_bytes()


def _encrypted_owner_only(tmp: Path) -> bytes:
    return make_encrypted_pdf(tmp / "owner.pdf").read_bytes()


def _zero_pages(_: Path) -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def _page_tree_cycle(_: Path) -> bytes:
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


def _lying_page_count(_: Path) -> bytes:
    objects = text_page("the page tree claims a million pages")
    objects[1] = b"<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>"
    return raw_pdf(objects)


def _huge_page(_: Path) -> bytes:
    return raw_pdf(text_page("an enormous page", mediabox=b"[0 0 1000000 1000000]"))


def _degenerate_page(_: Path) -> bytes:
    return raw_pdf(text_page("a page with no area", mediabox=b"[0 0 0 0]"))


def _deep_nesting(_: Path) -> bytes:
    depth = 200_000
    return raw_pdf(text_page("deeply nested arrays", page_extra=b"/Deep " + b"[" * depth + b"]" * depth))


def _reference_cycle(_: Path) -> bytes:
    return raw_pdf(
        text_page(
            "contents refer to each other", page_extra=b"/Annots 6 0 R", extra_objects=[b"7 0 R", b"6 0 R"]
        )
    )


def _javascript(_: Path) -> bytes:
    js = b"app.alert('pwned'); this.exportDataObject({cName: 'x', nLaunch: 2});"
    return raw_pdf(
        text_page(
            "javascriptium carries an open action script",
            catalog_extra=b"/OpenAction 6 0 R /Names << /JavaScript << /Names [(x) 6 0 R] >> >>",
            extra_objects=[b"<< /S /JavaScript /JS 7 0 R >>", pdf_stream(js)],
        )
    )


def _embedded_file(_: Path) -> bytes:
    payload = b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."
    return raw_pdf(
        text_page(
            "attachmentium carries an embedded executable",
            catalog_extra=b"/Names << /EmbeddedFiles << /Names [(../../evil.exe) 6 0 R] >> >>",
            extra_objects=[
                b"<< /Type /Filespec /F (../../evil.exe) /UF (../../evil.exe) /EF << /F 7 0 R >> >>",
                pdf_stream(payload, b"/Type /EmbeddedFile"),
            ],
        )
    )


def _launch_action(_: Path) -> bytes:
    return raw_pdf(
        text_page(
            "launchium opens a program",
            catalog_extra=b"/OpenAction << /S /Launch /F (/bin/sh) /Win << /F (cmd.exe) >> >>",
        )
    )


def _content_bomb(_: Path) -> bytes:
    return raw_pdf(text_page(content=deflate_zeros(64 << 20), content_extra=b"/Filter /FlateDecode"))


def _double_flate_bomb(_: Path) -> bytes:
    return raw_pdf(
        text_page(
            content=deflate_zeros(64 << 20, layers=2), content_extra=b"/Filter [/FlateDecode /FlateDecode]"
        )
    )


def _image_bomb(_: Path) -> bytes:
    # An image that claims 60000 x 60000 RGB pixels (10 GB decoded) and holds almost no data.
    image = pdf_stream(
        deflate_zeros(1 << 20),
        b"/Type /XObject /Subtype /Image /Width 60000 /Height 60000 /ColorSpace /DeviceRGB"
        b" /BitsPerComponent 8 /Filter /FlateDecode",
    )
    content = b"q 400 0 0 400 100 300 cm /Im1 Do Q BT /F1 12 Tf 72 720 Td (imagebombium) Tj ET"
    objects = text_page(content=content, extra_objects=[image])
    objects[2] = objects[2].replace(
        b"/Font << /F1 5 0 R >>", b"/Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >>"
    )
    return raw_pdf(objects)


def _stream_length_lies(_: Path) -> bytes:
    objects = text_page("the stream length is a lie")
    objects[3] = objects[3].replace(b"/Length ", b"/Length 999999", 1)  # prefixes the true length
    return raw_pdf(objects)


def _ten_thousand_pages(_: Path) -> bytes:
    n = 10_000
    kids = b" ".join(b"%d 0 R" % (i + 3) for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n)]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"] * n
    return raw_pdf(objects)


def _no_xref_at_all(_: Path) -> bytes:
    return raw_pdf(text_page("no cross reference table at all"), xref=False)


def _null_bytes_and_odd_text(_: Path) -> bytes:
    return raw_pdf(
        text_page(content=b"BT /F1 12 Tf 72 720 Td (nul\\000bytes \\377\\376 and \\\\ escapes) Tj ET")
    )


def _polyglot_zip(_: Path) -> bytes:
    return b"PK\x03\x04" + b"\x00" * 100 + raw_pdf(text_page("polyglotium hides in a zip"))


def _many_tiny_objects(_: Path) -> bytes:
    return raw_pdf(text_page("objectflood", extra_objects=[b"<< /A %d >>" % i for i in range(50_000)]))


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[Path], bytes]
    expect: Expect


HOSTILE: list[Hostile] = [
    Hostile("empty", _empty, (400, "empty_file")),
    Hostile("text-named-pdf", _text_named_pdf, (415, "not_a_pdf")),
    Hostile("png-named-pdf", _png_named_pdf, (415, "not_a_pdf")),
    Hostile("pdf-magic-after-1k", _header_too_late, (415, "not_a_pdf")),
    Hostile("header-only", _header_only, (422, "corrupt_pdf")),
    Hostile("garbage-after-header", _garbage_after_header, (422, "corrupt_pdf")),
    Hostile("truncated-paper", _truncated, "safe"),
    Hostile("truncated-mid-stream", _truncated_mid_stream, "safe"),
    Hostile("bad-xref-offsets", _bad_xref_offsets, "safe"),
    Hostile("startxref-past-end", _startxref_past_end, "safe"),
    Hostile("xref-prev-loop", _xref_prev_loop, "safe"),
    Hostile("no-xref", _no_xref_at_all, "safe"),
    Hostile("encrypted-user-password", _encrypted_with_password, (422, "encrypted_pdf")),
    Hostile("encrypted-owner-only", _encrypted_owner_only, "safe"),
    Hostile("zero-pages", _zero_pages, (422, "corrupt_pdf")),
    Hostile("page-tree-cycle", _page_tree_cycle, "safe"),
    Hostile("lying-page-count", _lying_page_count, "safe"),
    Hostile("huge-page", _huge_page, (413, "pdf_too_large")),
    Hostile("zero-area-page", _degenerate_page, "safe"),
    Hostile("deeply-nested-arrays", _deep_nesting, "safe"),
    Hostile("reference-cycle", _reference_cycle, "safe"),
    Hostile("javascript", _javascript, "safe"),
    Hostile("embedded-file", _embedded_file, "safe"),
    Hostile("launch-action", _launch_action, "safe"),
    Hostile("content-stream-bomb", _content_bomb, (413, "decompression_bomb")),
    Hostile("double-flate-bomb", _double_flate_bomb, (413, "decompression_bomb")),
    Hostile("image-bomb", _image_bomb, (413, "decompression_bomb")),
    Hostile("stream-length-lies", _stream_length_lies, "safe"),
    Hostile("ten-thousand-pages", _ten_thousand_pages, (413, "pdf_too_large")),
    Hostile("null-bytes-in-text", _null_bytes_and_odd_text, "safe"),
    Hostile("zip-polyglot", _polyglot_zip, "safe"),
    Hostile("fifty-thousand-objects", _many_tiny_objects, "safe"),
]
