"""The OpenAPI document: generated from the catalogue, and true of the service's answers.

The fuzzed test (test_contract_fuzz.py) checks the service against the document over
real HTTP; these check the document against the catalogue, field by field, and real
answers of the in-process service against the document's schemas.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from stratify.core.targets import TARGETS
from stratify.features.catalogue import features_for
from stratify.serving.api.contract import Operation, Reply, errors, openapi
from stratify.serving.api.schema import MAX_AGE_MONTHS, MAX_COUNT
from tests.serving import factory
from tests.serving.factory import MAX_BATCH, Service


@pytest.fixture(scope="module")
def doc(service: Service) -> dict[str, Any]:
    r = service.client.get("/docs.json")
    assert r.status_code == 200
    return r.json()


def _validate(doc: dict[str, Any], instance: Any, name: str) -> None:
    """Validate ``instance`` against the document's component ``name`` (refs resolved)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(instance)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _alternative(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of a nullable property (or the property itself)."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") != "null":
            return branch
    raise AssertionError(prop)


@pytest.mark.parametrize("target", TARGETS)
def test_each_record_field_is_typed_bounded_and_described_as_the_catalogue_says(doc, target):
    schema = doc["components"]["schemas"][f"{target.title()}Record"]
    props = schema["properties"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(props)
    features = features_for(target)
    assert set(props) == {"record_id", *(f.name for f in features)}
    cats = factory.categories(target)
    for f in features:
        prop = props[f.name]
        assert prop["description"] == f.description
        branch = _alternative(prop)
        assert ("anyOf" in prop) == f.nullable, f.name
        if f.dtype == "bool":
            assert branch["type"] == "boolean"
        elif f.dtype == "int":
            assert branch["type"] == "integer"
            assert branch["minimum"] == f.minimum
            high = f.maximum if f.maximum is not None else MAX_COUNT
            assert branch["maximum"] == (min(high, MAX_AGE_MONTHS) if f.name == "age_months"
                                         else high), f.name  # fmt: skip
        else:
            codes = list(f.categories or cats[f.name])
            assert branch.get("enum", [branch.get("const")]) == codes, f.name


def test_score_names_its_targets_and_documents_every_answer(doc):
    op = doc["paths"]["/score"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "target"
    assert set(body["discriminator"]["mapping"]) == set(TARGETS)
    for target in TARGETS:
        req = doc["components"]["schemas"][f"{target.title()}ScoreRequest"]
        assert req["properties"]["target"]["const"] == target
        assert req["properties"]["records"]["maxItems"] == MAX_BATCH
        assert req["properties"]["records"]["minItems"] == 1
    assert set(op["responses"]) == {"200", "400", "401", "403", "413", "415", "429", "503"}
    assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    for path in ("/model", "/model/card"):
        (param,) = doc["paths"][path]["get"]["parameters"]
        assert param["name"] == "target" and param["schema"]["enum"] == sorted(TARGETS)
    card = doc["paths"]["/model/card"]["get"]["responses"]
    assert "text/html" in card["200"]["content"] and "404" in card
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_real_answers_match_the_documented_schemas(svc: Service, doc):
    client, tokens = svc.client, svc.tokens
    records = factory.records("rereferral", 3, seed=8).to_dict("records")
    r = client.post("/score", json={"target": "rereferral", "records": records},
                    headers=_auth(tokens["scorer"]))  # fmt: skip
    assert r.status_code == 200
    _validate(doc, r.json(), "ScoreResponse")
    r = client.post("/score", json={"target": "rereferral", "records": [{**records[0], "x": 1}]},
                    headers=_auth(tokens["scorer"]))  # fmt: skip
    assert r.status_code == 400
    _validate(doc, r.json(), "Invalid")
    assert r.json()["detail"] == [
        {"record": 0, "field": "x", "problem": "Extra inputs are not permitted",
         "type": "extra_forbidden"}
    ]  # fmt: skip
    for target in TARGETS:
        r = client.get("/model", params={"target": target}, headers=_auth(tokens["reviewer"]))
        _validate(doc, r.json(), "ModelInfo")
    for status, body in (
        (401, client.post("/score", json={}).json()),
        (400, client.get("/model", headers=_auth(tokens["reviewer"])).json()),
    ):
        _validate(doc, body, "Error" if status == 401 else "Invalid")
    # a schema-valid body of the wrong target is refused before any record is read
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc, {"target": "escalation", "records": records}, "EscalationScoreRequest")


def test_a_new_endpoint_declares_itself_the_same_way():
    """The machinery is generic: another module's endpoint gets its models documented."""
    from pydantic import BaseModel

    class Decision(BaseModel):
        record_id: str
        decision: str

    class Recorded(BaseModel):
        decision_id: int

    op = Operation("post", "/decisions", "Record a decision", "What the manager decided.",
                   role="scorer", body=[Decision],
                   replies={201: Reply("Recorded.", Recorded), **errors(400, 401)})  # fmt: skip
    doc = openapi([op], title="t", version="0", description="d")
    post = doc["paths"]["/decisions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Decision"
    }
    assert set(post["responses"]) == {"201", "400", "401"}
    assert {"Decision", "Recorded", "Invalid", "Error", "Problem"} <= set(
        doc["components"]["schemas"]
    )
