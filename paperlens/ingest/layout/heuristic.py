"""Rule-based layout over PyMuPDF's text blocks and drawing boxes (the default backend).

Why rules: on the 9 bench papers PyMuPDF's ONNX layout model runs at ~0.5 pages/s on these CPUs and finds
12 pictures where the papers have ~40 captioned figures; these rules run at >20 pages/s and anchor every
figure and table on its caption, so vector-drawn plots are found as reliably as embedded images.

How: captions ("Figure 3:", "Table 2.") are anchors. From each caption we walk up and down its column,
absorbing graphics clusters and non-paragraph text blocks (axis labels, table cells) until running text;
the side holding graphics (figures) or the nearer side (tables) wins. Graphics with no caption become
figures/tables of their own when large enough. Display formulas are blocks set mostly in math fonts or
ending in an equation number. Headings are short blocks larger or bolder than the running text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperlens.ingest.captions import caption_label, equation_label
from paperlens.ingest.headings import can_be_section_title
from paperlens.ingest.layout.base import Graphic, LayoutBox, PageContent, TextBlock
from paperlens.ingest.layout.extract import body_font_size
from paperlens.models import BBox, ElementKind

_MARGIN = 0.07  # top/bottom share of the page where running headers, footers and page numbers live
_MAX_GAP = 30.0  # points of white space a figure/table region may bridge while growing from its caption
_MERGE = 6.0  # graphics closer than this (points) belong to one cluster
_BULLET_START = re.compile(r"^[•◦▪‣∙·●○■□]\s")
_LIST_START = re.compile(r"^([•◦▪‣∙·●○■□–—*]|\(?[a-z0-9ivx]{1,3}[.)])\s")
_SECTION_NUMBER = re.compile(r"^(\d+(\.\d+)*\.?|[IVX]+\.|[A-Z]\.|Appendix [A-Z])\s+\S")
_HEADING_WORDS = re.compile(
    r"^(abstract|introduction|related work|background|method(s|ology)?|experiments?|results|discussion|"
    r"conclusions?|references|bibliography|acknowledge?ments?|appendix|limitations|ethics statement|"
    r"summary|highlights|materials and methods|star\W*methods)\b",
    re.I,
)
_EQ_NUMBER_ONLY = re.compile(r"^\(\d{1,3}[a-z]?\)$")
_BOLD_HEADING_SHARE = 0.92  # a bold one-line heading is set at least this share of the running-text size
_TABLE_DIGITS = 0.2  # share of digits above which a long block reads as table rows, not prose
_LABEL_GAP = 24.0  # points between a drawing and a label set beside it on its lines
# Text this many times the running size or more labels no figure: it is a page's title beside a logo or a
# decorative band, or over a cover picture. Of the headings the figure-label rule vetoed (litqa_dev, the text
# layers of mmlb_dev, ../shared/bench/papers), the labels measure at most 1.6x ("LIM Kinase 1" 1.57x beside a
# domain diagram, "CHAPTERS" 1.60x), the page titles 2.6-3.3x ("TABLE OF CONTENTS" beside a report's
# hexagon logo and side band, which left the section of every later page under the previous page's heading).
_PAGE_TITLE_SIZE = 2.0
_MATHY = re.compile(r"[=<>≤≥≈∑∏∫∈∂±×·/^_]")


@dataclass
class _Cluster:
    bbox: BBox
    images: int = 0
    paths: int = 0
    rules: int = 0
    used: bool = False

    @property
    def is_figure_like(self) -> bool:
        return self.images > 0 or self.paths > 0


@dataclass
class _Region:
    bbox: BBox | None = None
    blocks: list[int] = field(default_factory=list)
    clusters: list[int] = field(default_factory=list)
    gap: float = 1e9  # distance from the caption to the nearest absorbed item

    def add(self, box: BBox) -> None:
        self.bbox = box if self.bbox is None else _union(self.bbox, box)


def _union(a: BBox, b: BBox) -> BBox:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _x_overlap(a: BBox, b: BBox) -> float:
    return min(a[2], b[2]) - max(a[0], b[0])


def _near(a: BBox, b: BBox, d: float) -> bool:
    return a[0] - d <= b[2] and b[0] - d <= a[2] and a[1] - d <= b[3] and b[1] - d <= a[3]


def _inside(inner: BBox, outer: BBox, slack: float = 2.0) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def _is_rule(g: Graphic) -> bool:
    w, h = g.bbox[2] - g.bbox[0], g.bbox[3] - g.bbox[1]
    return not g.image and ((h <= 2.0 and w >= 15) or (w <= 2.0 and h >= 15))


def _is_column_separator(g: Graphic, c: PageContent) -> bool:
    """A tall thin line or strip (the gutter rule between columns, drawn or an image): page furniture. Left
    in, it chains every graphic of the page into one cluster, and the whole page became one "figure"."""
    w, h = g.bbox[2] - g.bbox[0], g.bbox[3] - g.bbox[1]
    return w <= 15 and h >= 0.4 * c.height


def _backs_text(g: Graphic, paragraphs: list[BBox]) -> bool:
    """A box drawn behind running text (a text frame, a shaded abstract or sidebar) is not a figure."""
    return any(_inside(box, g.bbox) for box in paragraphs)


def cluster_graphics(graphics: list[Graphic]) -> list[_Cluster]:
    """Greedy merge of graphics boxes closer than ``_MERGE`` points (a plot's hundreds of paths become one)."""
    clusters: list[_Cluster] = []
    for g in sorted(graphics, key=lambda g: (g.bbox[1], g.bbox[0])):
        hits = [c for c in clusters if _near(c.bbox, g.bbox, _MERGE)]
        target = hits[0] if hits else _Cluster(bbox=g.bbox)
        if not hits:
            clusters.append(target)
        for other in hits[1:]:
            target.bbox = _union(target.bbox, other.bbox)
            target.images += other.images
            target.paths += other.paths
            target.rules += other.rules
            clusters.remove(other)
        target.bbox = _union(target.bbox, g.bbox)
        if g.image:
            target.images += 1
        elif _is_rule(g):
            target.rules += 1
        else:
            target.paths += 1
    return clusters


def _is_prose(b: TextBlock) -> bool:
    """Several long lines of words, at any size. Figure labels and table cells are not, and neither are table
    rows that PyMuPDF joined into one wide block (mostly numbers)."""
    if b.lines < 2 or len(b.text) < 120:
        return False
    digits = sum(ch.isdigit() for ch in b.text) / len(b.text)
    return len(b.text) / b.lines >= 35 and b.math < 0.4 and digits < _TABLE_DIGITS


def _is_paragraph(b: TextBlock, body: float) -> bool:
    """Running text: prose at the body size."""
    return abs(b.size - body) <= 0.8 and _is_prose(b)


def _is_furniture(b: TextBlock, c: PageContent) -> ElementKind | None:
    if b.furniture:  # recurring across the document (layout.furniture)
        return ElementKind.HEADER if b.furniture == "top" else ElementKind.FOOTER
    if b.rotated and (b.bbox[2] < 0.15 * c.width or b.bbox[0] > 0.85 * c.width):
        return ElementKind.HEADER  # arXiv side stamp and similar margin notes
    if len(b.text) > 200:
        return None
    if b.bbox[3] <= _MARGIN * c.height:
        return ElementKind.HEADER
    if b.bbox[1] >= (1 - _MARGIN) * c.height:
        return ElementKind.FOOTER
    return None


def _is_formula(b: TextBlock, body: float) -> bool:
    if len(b.text) > 400:
        return False
    if b.math >= 0.45 and not (_is_paragraph(b, body) and b.math < 0.7):
        return True
    # A short centred-ish line with an equation number "(3)" at its end and some mathematical operator.
    return (
        b.lines <= 3
        and equation_label(b.text) is not None
        and bool(_MATHY.search(b.text))
        and len(b.text) < 160
    )


def _heading_kind(b: TextBlock, body: float, running: float) -> bool:
    """``body``: the document's running-text size; ``running``: the smaller of it and this page's (methods
    and back matter are often set smaller than the main text, and so are their headings)."""
    if b.lines > 3 or len(b.text) > 150 or len(b.text) < 2 or not can_be_section_title(b.text):
        return False
    if _BULLET_START.match(b.text):  # a highlight or list item set large (Cell Press's "Highlights")
        return False
    if b.size >= body + 1.0 and not b.text.endswith((".", ",")):
        return True
    # Bold and clearly smaller than the running text is a label on a figure the region finder missed ("MAL II",
    # "SNA": bold 7.1 pt beside 8.2 pt text; "MAL II" named the section of 93 litqa_dev chunks), not a heading.
    # Real bold headings on litqa_dev measure 0.95 of the running size and up (11.5 pt in 12.1 pt text).
    if b.bold >= 0.6 and len(b.text) <= 100 and b.size >= _BOLD_HEADING_SHARE * running:
        return bool(_SECTION_NUMBER.match(b.text) or _HEADING_WORDS.match(b.text)) or b.lines == 1
    if b.lines == 1 and _HEADING_WORDS.match(b.text) and _HEADING_WORDS.sub("", b.text).strip(" :.") == "":
        return True  # a line that is a heading word alone ("SUMMARY", "Results"), at any size or weight
    return bool(_SECTION_NUMBER.match(b.text) and _HEADING_WORDS.match(_SECTION_NUMBER.sub("", b.text)))


def _is_drawing(cl: _Cluster) -> bool:
    """Graphics a figure is made of (the test an uncaptioned figure passes), not a rule or a frame."""
    w, h = cl.bbox[2] - cl.bbox[0], cl.bbox[3] - cl.bbox[1]
    return w >= 50 and h >= 40 and (cl.images > 0 or cl.paths >= 3)


def _is_figure_label(b: TextBlock, drawings: list[BBox], body: float) -> bool:
    """Text set sideways, or lying inside a drawing or right beside it on the same lines, labels a figure (an
    axis title, "LIM Kinase 1" left of a domain diagram, a mutant's name "Q251A" over its bars) even when no
    captioned region took it in. Read as headings, such labels named the section of whole papers: a litqa_dev
    paper's 111 text elements sat under "Cofilin, % unphosphorylated", "1 638" and "Q251A", none under a real
    heading. A heading is set above or below a drawing, never on its lines, unless it is a page's title set far
    larger than any label (``_PAGE_TITLE_SIZE``)."""
    if b.rotated:
        return True
    if b.size >= _PAGE_TITLE_SIZE * body:
        return False
    cx, cy = (b.bbox[0] + b.bbox[2]) / 2, (b.bbox[1] + b.bbox[3]) / 2
    for d in drawings:
        if not d[1] <= cy <= d[3]:
            continue  # not on the drawing's lines
        inside = d[0] <= cx <= d[2]
        beside = abs(d[0] - b.bbox[2]) <= _LABEL_GAP or abs(b.bbox[0] - d[2]) <= _LABEL_GAP
        if inside or beside:
            return True
    return False


def _grow(
    caption: BBox,
    up: bool,
    c: PageContent,
    free_blocks: set[int],
    clusters: list[_Cluster],
    body: float,
    kind: str = "figure",
) -> _Region:
    """Absorb graphics and non-paragraph text next to a caption, walking away from it in its column.

    A table's walk stops at an embedded image: a table is text and rules, and the picture below it is the
    next figure (whose caption comes later in the page), not part of the table."""
    items: list[tuple[float, str, int, BBox]] = []
    for i in free_blocks:
        box = c.blocks[i].bbox
        if _x_overlap(box, caption) > 1 and (
            (box[3] <= caption[1] + 2) if up else (box[1] >= caption[3] - 2)
        ):
            items.append((box[3] if up else box[1], "b", i, box))
    for k, cl in enumerate(clusters):
        box = cl.bbox
        if cl.used or _x_overlap(box, caption) <= 1:
            continue
        if (box[3] <= caption[1] + 4) if up else (box[1] >= caption[3] - 4):
            items.append((box[3] if up else box[1], "g", k, box))
    items.sort(key=lambda t: -t[0] if up else t[0])
    region = _Region()
    # White space scales with the type: a page set at 2x (posters, scaled reprints) has 2x the gaps.
    max_gap = _MAX_GAP * max(1.0, body / 10.0)
    edge = caption[1] if up else caption[3]
    for pos, what, idx, box in items:
        gap = (edge - pos) if up else (pos - edge)
        if gap > max_gap and not (region.bbox and _inside(box, region.bbox)):
            break
        if what == "b":
            block = c.blocks[idx]
            if _is_paragraph(block, body) or caption_label(block.text):
                break
            region.blocks.append(idx)
        else:
            if kind == "table" and clusters[idx].images:
                break
            region.clusters.append(idx)
        if region.bbox is None:
            region.gap = max(gap, 0.0)
        region.add(box)
        edge = min(edge, box[1]) if up else max(edge, box[3])
    return region


def analyze_content(c: PageContent) -> list[LayoutBox]:
    body = c.body_size
    running = min(body, body_font_size([c]))
    out: list[LayoutBox] = []
    kinds: dict[int, ElementKind] = {}
    for i, b in enumerate(c.blocks):
        kind = _is_furniture(b, c)
        if kind:
            kinds[i] = kind
    # Prose at any size: a page of acknowledgements (9 pt) and references (8 pt) in a frame is still text.
    prose = {i for i, b in enumerate(c.blocks) if _is_prose(b)}
    boxes = [c.blocks[i].bbox for i in prose]
    graphics = [g for g in c.graphics if not _is_column_separator(g, c) and not _backs_text(g, boxes)]
    clusters = [cl for cl in cluster_graphics(graphics) if cl.bbox[3] > _MARGIN * c.height]
    free = {i for i in range(len(c.blocks)) if i not in kinds}

    captions = [(i, caption_label(c.blocks[i].text)) for i in sorted(free, key=lambda i: c.blocks[i].bbox[1])]
    link = 0
    anchored: set[tuple[str, int]] = set()
    for i, label in captions:
        # A label anchors one region a page: a second "Table 2:" under the table is its note, and grown as a
        # caption of its own its region swallowed the two columns of running text below it (litqa_dev). Only
        # a region counts: a paragraph that opens with "Table 4." before the caption anchors nothing.
        if label is None or i not in free or label in anchored:
            continue
        cap = c.blocks[i]
        free.discard(i)
        up = _grow(cap.bbox, True, c, free, clusters, body, label[0])
        down = _grow(cap.bbox, False, c, free, clusters, body, label[0])
        region = _choose(label[0], up, down, clusters)
        kinds[i] = ElementKind.CAPTION
        link += 1
        if region is None or region.bbox is None:
            out.append(LayoutBox(ElementKind.CAPTION, cap.bbox, cap.text, {"label": list(label)}))
            continue
        anchored.add(label)
        out.append(LayoutBox(ElementKind.CAPTION, cap.bbox, cap.text, {"label": list(label), "link": link}))
        out.append(_visual(label[0], region, c, clusters, free, {"label": list(label), "link": link}))

    # Graphics nobody's caption claimed: large images and plots are figures, ruled grids with text are tables.
    for cl in clusters:
        if cl.used:
            continue
        w, h = cl.bbox[2] - cl.bbox[0], cl.bbox[3] - cl.bbox[1]
        inner = [i for i in free if _inside(c.blocks[i].bbox, cl.bbox)]
        if prose.intersection(inner):
            continue  # graphics around running text (rules, frames, icons between paragraphs): not a figure
        if cl.is_figure_like and w >= 50 and h >= 40 and (cl.images or cl.paths >= 3):
            region = _Region(bbox=cl.bbox, blocks=inner, clusters=[clusters.index(cl)])
            out.append(_visual("figure", region, c, clusters, free, {}))
        elif cl.rules >= 4 and w >= 80 and len(inner) >= 3:
            region = _Region(bbox=cl.bbox, blocks=inner, clusters=[clusters.index(cl)])
            out.append(_visual("table", region, c, clusters, free, {}))

    out.extend(_formulas(c, free, body))
    # Drawings the size of a figure only: a rule or a coloured bar beside a heading is a decoration.
    drawings = [cl.bbox for cl in clusters if _is_drawing(cl)]
    for i in sorted(free):
        b = c.blocks[i]
        if b.rotated and (b.bbox[2] < 0.15 * c.width or b.bbox[0] > 0.85 * c.width):
            kind = ElementKind.HEADER
        elif _heading_kind(b, body, running) and not _is_figure_label(b, drawings, body):
            kind = ElementKind.TITLE
        elif _LIST_START.match(b.text):
            kind = ElementKind.LIST
        elif b.bbox[1] > 0.75 * c.height and b.size <= body - 1.0 and len(b.text) < 400:
            kind = ElementKind.FOOTNOTE
        else:
            kind = ElementKind.TEXT
        kinds[i] = kind
    for i, kind in kinds.items():
        if kind != ElementKind.CAPTION:
            b = c.blocks[i]
            out.append(LayoutBox(kind, b.bbox, b.text, {"size": b.size}))
    return out


def _choose(kind: str, up: _Region, down: _Region, clusters: list[_Cluster]) -> _Region | None:
    def has_graphics(r: _Region) -> bool:
        return any(clusters[k].is_figure_like or clusters[k].rules for k in r.clusters)

    sides = [r for r in (up, down) if r.bbox is not None]
    if not sides:
        return None
    if kind == "figure":
        # Figures sit above their captions in nearly every style; insist on graphics where there are some.
        graphic_sides = [r for r in (up, down) if has_graphics(r)]
        if graphic_sides:
            return graphic_sides[0]
        return up if up.bbox is not None and len(up.blocks) >= 2 else None
    ruled = [r for r in sides if any(clusters[k].rules for k in r.clusters)]
    pool = ruled or sides
    return min(pool, key=lambda r: r.gap)


def _visual(kind: str, region: _Region, c: PageContent, clusters: list[_Cluster], free: set[int], meta: dict):
    for k in region.clusters:
        clusters[k].used = True
    assert region.bbox is not None
    # Labels and cells lying inside the final box belong to it even if the walk did not pass them.
    blocks = set(region.blocks) | {i for i in free if _inside(c.blocks[i].bbox, region.bbox)}
    for i in blocks:
        free.discard(i)
    ordered = sorted(blocks, key=lambda i: (c.blocks[i].bbox[1], c.blocks[i].bbox[0]))
    text = " ".join(c.blocks[i].text for i in ordered)
    element_kind = ElementKind.TABLE if kind == "table" else ElementKind.FIGURE
    # Every figure is cropped, also "algorithm" boxes; they are figures a reader looks at.
    return LayoutBox(element_kind, region.bbox, text, meta)


def _same_column(a: BBox, b: BBox, page_width: float) -> bool:
    mid = page_width / 2
    if b[0] < mid - 12 and b[2] > mid + 12:  # a full-width formula: its lines span both halves
        return True
    return (a[2] <= mid + 12) if (b[0] + b[2]) / 2 < mid else (a[0] >= mid - 12)


def _y_overlap(a: BBox, b: BBox) -> float:
    return min(a[3], b[3]) - max(a[1], b[1])


def _numbered_lines(c: PageContent, free: set[int], body: float) -> dict[int, int]:
    """Blocks on the lines of a lone equation number "(3)" that hold an operator: a display formula set in a
    text font (no math font, no number in its own block), which PyMuPDF splits into pieces ("dNp" over
    "dt = kpNp − ksNp"); set large, the pieces read as headings. Returns {block: its number's block}."""
    numbers = [j for j in free if _EQ_NUMBER_ONLY.match(c.blocks[j].text)]
    found: dict[int, int] = {}
    for i in free:
        b = c.blocks[i]
        if i in numbers or len(b.text) > 120 or b.lines > 3 or "=" not in b.text or _is_paragraph(b, body):
            continue
        for j in numbers:
            n = c.blocks[j].bbox
            if _y_overlap(b.bbox, n) > 0.2 * min(b.height, n[3] - n[1]):
                found[i] = j
                break
    return found


def _formulas(c: PageContent, free: set[int], body: float) -> list[LayoutBox]:
    numbered = _numbered_lines(c, free, body)
    picked = [
        i
        for i in sorted(free, key=lambda i: c.blocks[i].bbox[1])
        if _is_formula(c.blocks[i], body) or i in numbered
    ]
    groups: list[list[int]] = []
    for i in picked:
        box = c.blocks[i].bbox
        last = groups[-1] if groups else None
        if last:
            prev = c.blocks[last[-1]].bbox
            if box[1] - prev[3] <= 4.0 and _x_overlap(box, prev) > 0:
                last.append(i)
                continue
        groups.append([i])
    out = []
    for group in groups:
        group += [numbered[i] for i in group if i in numbered and numbered[i] not in group]
        box = c.blocks[group[0]].bbox
        for i in group[1:]:
            box = _union(box, c.blocks[i].bbox)
        # Short pieces set beside the formula on its lines belong to it: the equation number "(1)", and the
        # denominator of a fraction that PyMuPDF put in its own block ("J + C (1)"). Only from the same
        # column, so a heading in the other column at the same height stays out.
        for j in sorted(free, key=lambda j: c.blocks[j].bbox[1]):
            b = c.blocks[j]
            if j in group or not _same_column(b.bbox, box, c.width):
                continue
            y_overlap = min(b.bbox[3], box[3]) - max(b.bbox[1], box[1])
            short = _EQ_NUMBER_ONLY.match(b.text) or (len(b.text) <= 60 and b.lines <= 2)
            if y_overlap > 0.3 * min(b.height, box[3] - box[1]) and short and not _is_paragraph(b, body):
                group.append(j)
                box = _union(box, b.bbox)
        for i in group:
            free.discard(i)
        # Top to bottom, left to right; a lone equation number last, where a reader (and equation_label) looks.
        ordered = sorted(
            group,
            key=lambda i: (
                bool(_EQ_NUMBER_ONLY.match(c.blocks[i].text)),
                c.blocks[i].bbox[1],
                c.blocks[i].bbox[0],
            ),
        )
        text = " ".join(c.blocks[i].text for i in ordered)
        label = equation_label(text)
        out.append(LayoutBox(ElementKind.FORMULA, box, text, {"label": list(label)} if label else {}))
    return out


class HeuristicLayout:
    name = "heuristic"

    def analyze(self, page, content: PageContent) -> list[LayoutBox]:
        return analyze_content(content)
