"""schemathesis against the live server's own /openapi.json: requests generated from the spec, valid
(positive) and deliberately invalid (negative), for every operation. None may get a 500 (or an untyped 5xx),
and the service must still answer its health check afterwards."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from live_server import live_server, upload
from reliability_kit import marked_pdf, service_settings

EXAMPLES = int(os.environ.get("PAPERLENS_FUZZ_EXAMPLES", "15"))  # per operation and mode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz-data")
    with live_server(service_settings(data, max_upload_mb=1)) as srv, srv.client() as client:
        pdf = marked_pdf(tmp_path_factory.mktemp("fuzz-pdf") / "seed.pdf", "fuzzseedword")
        r = upload(client, pdf.read_bytes(), "seed.pdf")
        assert srv.wait_for_job(client, r.json()["job_id"])["status"] == "succeeded"
        yield srv


def _is_server_fault(response) -> bool:
    """A 500, or any 5xx that is not one of the service's typed answers. A typed 503 such as
    ``backend_unavailable`` or ``image_search_disabled`` is the service saying, on purpose, that a configured
    backend is off; an untyped 5xx or ``internal_error`` is a crash."""
    if response.status_code < 500:
        return False
    if response.status_code == 500:
        return True
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return code in (None, "internal_error")


def _fuzz(operation, mode, base_url: str, tried: Counter, server_errors: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case):
        response = case.call(base_url=base_url, timeout=60)
        tried[operation.label] += 1
        if _is_server_fault(response):
            server_errors.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            )

    try:
        call()
    except Unsatisfiable:  # negative mode: an operation with nothing that can be made invalid (no inputs)
        tried[operation.label] += 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_requests_generated_from_the_openapi_spec_never_get_a_500(server, mode):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    tried: Counter[str] = Counter()
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]

    for operation in operations:
        _fuzz(operation, mode, server.url, tried, server_errors)

    with server.client() as client:
        assert client.get("/v1/health").status_code == 200
    assert not server_errors, "\n".join(server_errors[:20])
    print(
        f"\nfuzz ({mode.value}): {sum(tried.values())} requests over {len(tried)} operations, no 500: {dict(tried)}"
    )
