"""The OpenAPI document, fuzzed by schemathesis against the running server.

Every operation is called with generated (valid and invalid) data, with and without the
API key; every answer must have a documented status code, content type and schema, and
no answer may be a server error.

One check is left out: ``positive_data_acceptance`` (a schema-valid body must be
accepted). Admission depends on more than the body's shape, by design: the principal's
rate and budget, guardrails on the text, lone surrogates, the byte size of task and input
together. The document states what it can (no banned control characters, the task's
length, the gateway's input schema); the rest answers 4xx with a typed body, which the
other checks do verify.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from server_helpers import start_served


def test_schemathesis_finds_no_nonconforming_answer(tmp_path: Path) -> None:
    handle, served = start_served(tmp_path)
    try:
        schema = schemathesis.openapi.from_url(served.url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 7
        headers = {"Authorization": f"Bearer {served.secret}"}
        calls: list[int] = []
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=15,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=True,
                    database=None,
                )
                def check(case: Any) -> None:
                    response = case.call_and_validate(
                        headers=headers, excluded_checks=[positive_data_acceptance]
                    )
                    calls.append(response.status_code)
                    assert response.status_code < 500

                check()
        # Both accepted and refused requests were made.
        assert len(calls) > 100
        assert {200, 404, 422} <= set(calls)
    finally:
        handle.stop()


def test_the_document_lists_every_operation_and_its_errors(tmp_path: Path) -> None:
    import httpx

    handle, served = start_served(tmp_path)
    try:
        doc = httpx.get(served.url + "/openapi.json").json()
    finally:
        handle.stop()
    operations = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert operations == {
        ("POST", "/v1/executions"),
        ("GET", "/v1/executions/{execution_id}"),
        ("GET", "/v1/executions/{execution_id}/events"),
        ("POST", "/v1/executions/{execution_id}/stop"),
        ("GET", "/v1/approvals"),
        ("POST", "/v1/approvals/{approval_id}"),
        ("GET", "/v1/costs"),
    }
    create = doc["paths"]["/v1/executions"]["post"]["responses"]
    assert set(create) == {"200", "202", "401", "402", "403", "404", "413", "422", "429"}
    assert create["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExecutionView"
    }
    params = {p["name"]: p["in"] for p in doc["paths"]["/v1/executions"]["post"]["parameters"]}
    assert params == {"wait": "query", "prefer": "header"}
    assert create["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
