"""What the service's endpoints accept and answer, as typed models, and its OpenAPI document.

The request bodies are generated from the catalogue per served model
(:func:`stratify.serving.api.schema.score_request_model`); the replies are the models
below. :func:`operations` declares ``POST /score``, ``GET /model`` and
``GET /model/card`` as :class:`~stratify.serving.api.contract.Operation`; a new
endpoint adds its own to the list :func:`document` is given. The document is served
without a token at ``/docs.json`` (it holds no data: the catalogue's fields, codes and
ranges, which are public in this repository, and the served targets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from stratify.serving.api.contract import Operation, Query, Reply, errors, openapi
from stratify.serving.api.schema import score_request_model

if TYPE_CHECKING:
    from stratify.serving.api.endpoints import Served

TITLE = "stratify scoring service"
DESCRIPTION = (
    "Risk scores with plain-language reasons for family-context records, to support "
    "professional judgement; the score decides nothing on its own. Every request is "
    "audited (who, when, which pseudonymous record ids, never feature values)."
)
_OUT = ConfigDict(extra="forbid")


class Reason(BaseModel):
    """One reason behind a score: a feature, its plain-language text, its contribution."""

    model_config = _OUT
    feature: str = Field(description="the catalogue feature")
    text: str = Field(description="the plain-language reason")
    contribution: float = Field(description="its SHAP contribution (log-odds)")


class Period(BaseModel):
    """A period of decision points."""

    model_config = ConfigDict(extra="allow")
    start: str = Field(description="first date (ISO)")
    end: str = Field(description="last date (ISO)")


class Verdicts(BaseModel):
    """Whether the model met the working group's bar."""

    model_config = _OUT
    performance: str | None
    fairness: str


class Unavailable(BaseModel):
    """A feature group the model could not use: its source was absent from the records."""

    model_config = _OUT
    group: str = Field(description="the feature group")
    source: str = Field(description="the warehouse table it needs")
    reason: str = Field(description="why the table is absent")
    features: list[str] = Field(description="the features left out")


def _result_model(targets: Sequence[str]) -> type[BaseModel]:
    return create_model(
        "ScoreResult", __config__=_OUT, __doc__="The score of one record.",
        record_id=(str, Field(description="the record's pseudonymous id, as sent")),
        probability=(float, Field(ge=0, le=1, description="calibrated probability")),
        band=(int, Field(ge=1, le=10, description="decile band, 10 highest")),
        reasons=(list[Reason], Field(max_length=3, description="up to three reasons")),
        model_version=(int, Field(ge=1, description="the registered model version")),
    )  # fmt: skip


def _score_reply(targets: Sequence[str]) -> type[BaseModel]:
    kind: Any = Literal[tuple(targets)]
    result: Any = _result_model(targets)
    return create_model(
        "ScoreResponse", __config__=_OUT, __doc__="Scores, bands and reasons of a batch.",
        target=(kind, Field(description="the prediction target")),
        model_name=(str, Field(description="the registered model name")),
        model_version=(int, Field(ge=1, description="the registered model version")),
        band_definition=(str, Field(description="what a band means")),
        results=(list[result], Field(description="one per record, in order")),
    )  # fmt: skip


def _model_reply(targets: Sequence[str]) -> type[BaseModel]:
    kind: Any = Literal[tuple(targets)]
    optional: Any = (str | None, None)
    return create_model(
        "ModelInfo", __config__=_OUT, __doc__="The served champion of a target.",
        target=(kind, ...), model_name=(str, ...), model_version=(int, Field(ge=1)),
        bento_tag=(str, ...), run_id=(str, ...),
        training_period=(Period | None, None), calibration_period=(Period | None, None),
        test_period=(Period | None, None), capacity=optional,
        operating_threshold=(float | None, None), verdicts=(Verdicts, ...),
        approval=(dict[str, str], ...), band_definition=(str, ...),
        band_edges=(list[float] | None, None), catalogue_hash=optional,
        card=(str | None, Field(description="where the model card is (null: none written)")),
        card_missing=optional,
        unavailable_feature_groups=(list[Unavailable], Field(
            description="feature groups left out because the council's records lack their "
                        "source (empty: none)")),
    )  # fmt: skip


def operations(served: Mapping[str, Served], max_batch: int) -> list[Operation]:
    """Declare the scoring service's endpoints for the models it serves."""
    targets = sorted(served)
    bodies = [score_request_model(t, served[t].record, max_batch) for t in targets]
    target = Query("target", "the prediction target", targets)
    score = Operation(
        "post", "/score", "Score family-context records",
        "Probability, band (1-10) and up to three plain-language reasons per record, with "
        "the model version. Every field is required; nothing is scored when any is invalid.",
        role="scorer", body=bodies, discriminator="target", tags=["scoring"],
        replies={200: Reply("The scores.", _score_reply(targets)),
                 **errors(400, 401, 403, 413, 415, 429, 503)},
    )  # fmt: skip
    model = Operation(
        "get", "/model", "Describe the served champion",
        "Version, periods, verdicts, approval and where its model card is.",
        role="reviewer", query=[target], tags=["models"],
        replies={200: Reply("The champion.", _model_reply(targets)),
                 **errors(400, 401, 403, 429, 503)},
    )  # fmt: skip
    card = Operation(
        "get", "/model/card", "The champion's model card",
        "The model card (HTML) of the served version, as the working group signed it off.",
        role="reviewer", query=[target], tags=["models"],
        replies={200: Reply("The card.", media_type="text/html"),
                 **errors(400, 401, 403, 404, 429, 503)},
    )  # fmt: skip
    return [score, model, card]


def document(ops: Sequence[Operation], version: str) -> dict[str, Any]:
    """Return the OpenAPI document of ``ops``."""
    return openapi(ops, title=TITLE, version=version, description=DESCRIPTION)
