"""Qwen2.5-VL as the answerer, run for real on a tiny random Qwen2.5-VL: the top figure/table crops go to the
model as images beside the fenced text evidence, through the real checkpoint's processor path."""

from __future__ import annotations

import pytest
from pdf_factory import make_paper_pdf
from PIL import Image
from tiny_models import build_tiny_qwen2_5_vl

from paperlens.config import GenerateSettings, load_settings
from paperlens.engine import Engine
from paperlens.errors import BackendUnavailableError
from paperlens.generate import answer_question, build_generator, stream_answer
from paperlens.generate.qwen_vl import QwenVLGenerator
from paperlens.models import ElementKind, Hit


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny-qwen-vl-answerer"))


def _hit(n: int, kind: ElementKind, text: str) -> Hit:
    return Hit(
        chunk_id=n,
        document_id="doc",
        page=n,
        bbox=(0, 0, 100, 100),
        kind=kind,
        text=text,
        score=1.0,
        element_id=f"e{n}",
        image_url=f"/v1/elements/e{n}/image" if kind != ElementKind.TEXT else None,
    )


@pytest.fixture
def evidence_and_crops(tmp_path):
    evidence = [
        _hit(1, ElementKind.TEXT, "The loss falls quickly during the first epochs."),
        _hit(2, ElementKind.FIGURE, "Figure 1: training loss over ten epochs."),
        _hit(3, ElementKind.TABLE, "Table 1: accuracy of three methods."),
        _hit(4, ElementKind.FIGURE, "Figure 2: a test pattern."),
    ]
    crops = {}
    for hit in evidence[1:]:
        crops[hit.element_id] = tmp_path / f"{hit.element_id}.png"
        Image.new("RGB", (56 + 28 * hit.page, 56), (40 * hit.page, 90, 200)).save(crops[hit.element_id])
    return evidence, crops


def test_the_top_visual_crops_go_to_the_model_as_images(qwen_dir, evidence_and_crops):
    evidence, crops = evidence_and_crops
    settings = GenerateSettings(backend="qwen-vl", model=str(qwen_dir), max_new_tokens=6, max_images=2)
    generator = build_generator(settings, embedder=None, image_resolver=lambda hit: crops.get(hit.element_id))
    assert isinstance(generator, QwenVLGenerator)

    # Text hits never send an image; of the visual ones, only the best-ranked max_images do.
    assert generator.select_images(evidence) == [(2, crops["e2"]), (3, crops["e3"])]
    (system, user) = generator.messages("What does Figure 1 show?", evidence)
    images = [part["image"] for part in user["content"] if part["type"] == "image"]
    labels = [part["text"] for part in user["content"] if part["type"] == "text"][:-1]
    assert images == [str(crops["e2"]), str(crops["e3"])]
    assert labels == ["Image of evidence [2] (figure, page 2):", "Image of evidence [3] (table, page 3):"]
    assert (
        "<evidence id=4 " in user["content"][-1]["text"]
        and "cite that number" in system["content"][0]["text"]
    )

    runner, inputs = generator._inputs(generator.messages("What does Figure 1 show?", evidence))
    image_pad = runner.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((inputs["input_ids"] == image_pad).sum()) > 0 and inputs["pixel_values"].shape[0] > 0
    assert inputs["image_grid_thw"].shape[0] == 2  # two images really went through the processor

    answer = answer_question("What does Figure 1 show?", evidence, generator)
    assert answer.backend == "qwen-vl" and answer.evidence == evidence
    events = list(stream_answer("What does Figure 1 show?", evidence, generator))
    assert events[-1]["event"] == "final"


def test_without_crops_it_answers_from_text_alone(qwen_dir, evidence_and_crops):
    evidence, _ = evidence_and_crops
    generator = QwenVLGenerator(str(qwen_dir), max_new_tokens=4)
    assert generator.select_images(evidence) == []
    runner, inputs = generator._inputs(generator.messages("q?", evidence))
    assert "pixel_values" not in inputs
    assert isinstance(generator.generate("q?", evidence), str)


def test_a_missing_model_folder_is_reported_at_construction(tmp_path):
    with pytest.raises(BackendUnavailableError, match="not found"):
        QwenVLGenerator(str(tmp_path / "missing"))
    with pytest.raises(BackendUnavailableError, match="no config.json"):
        QwenVLGenerator(str(tmp_path))


@pytest.mark.slow  # ingests a PDF (a parser process) on top of the tiny model
def test_the_engine_hands_the_answerer_the_crops_of_retrieved_figures(qwen_dir, tmp_path):
    paper = make_paper_pdf(tmp_path / "paper.pdf")
    settings = load_settings(
        data_dir=tmp_path / "data",
        generate={"backend": "qwen-vl", "model": str(qwen_dir), "max_new_tokens": 4},
    )
    engine = Engine(settings)
    try:
        engine.ingest_path(paper.path)
        evidence = engine.search("Figure 1 training loss plot", k=6)
        shown = engine.generator.select_images(evidence)
        assert shown, [(h.kind, h.element_id) for h in evidence]
        for n, path in shown:
            hit = evidence[n - 1]
            element = engine.store.get_element(hit.element_id)
            assert hit.kind in (ElementKind.FIGURE, ElementKind.TABLE, ElementKind.FORMULA)
            assert path == settings.data_dir / element.crop_path and path.is_file()
        assert engine.ask("What does Figure 1 show?", k=6).backend == "qwen-vl"
    finally:
        engine.close()
