"""The gateway's OpenAPI document declares every response it answers, in the shapes it answers them."""

from __future__ import annotations

import pytest

from shipway.gateway.app import create_app

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def doc() -> dict:
    return create_app().openapi()


def _schema(op: dict, status: str) -> dict:
    return op["responses"][status]["content"]["application/json"]["schema"]


def test_error_responses_are_declared_with_the_error_shape(doc):
    start = doc["paths"]["/v1/agents/{name}/runs"]["post"]
    resume = doc["paths"]["/v1/runs/{run_id}/resume"]["post"]
    for op in (start, resume):
        for status in ("404", "409", "413", "422"):
            assert _schema(op, status) == ERROR, status
    assert _schema(doc["paths"]["/v1/runs/{run_id}"]["get"], "404") == ERROR
    assert "HTTPValidationError" not in str(doc)


def test_success_responses_have_models(doc):
    start = doc["paths"]["/v1/agents/{name}/runs"]["post"]
    assert _schema(start, "202") == {"$ref": "#/components/schemas/RunAccepted"}
    assert _schema(start, "200") == {"$ref": "#/components/schemas/RunView"}
    assert _schema(doc["paths"]["/v1/runs/{run_id}"]["get"], "200") == {"$ref": "#/components/schemas/RunView"}


def test_metrics_is_declared_as_text(doc):
    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert content and all(c.startswith("text/plain") for c in content), content


def test_each_built_in_agents_input_schema_is_published(doc):
    schemas = doc["components"]["schemas"]
    for name in ("CreditUnderwritingInput", "FinancialAnalysisInput", "ComplianceMonitoringInput", "FraudDetectionInput",
                 "PortfolioManagementInput"):
        assert schemas[name]["type"] == "object" and schemas[name]["properties"], name
    refs = [s.get("$ref") for s in schemas["RunRequest"]["properties"]["input"]["anyOf"]]
    assert "#/components/schemas/CreditUnderwritingInput" in refs


def test_every_route_has_a_docstring(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("description"), f"{method.upper()} {path}"
