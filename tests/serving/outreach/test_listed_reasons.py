"""The reasons of a real outreach list: the small borough's champion, one date's families.

Each listed family's reasons are worked out again from the model's TreeSHAP values (the
booster read through the pipeline's own encoder) and the catalogue's declarations
(:func:`tests.serving.test_reasons.concern`), never by calling the reasons code.
"""

from __future__ import annotations

import pandas as pd
import pytest

from stratify.features.catalogue import FEATURE_BY_NAME, reason
from stratify.features.config import Config
from stratify.features.model_input import model_frame
from stratify.serving.outreach.ranking import REASON_COLUMNS, OutreachList, build_list
from stratify.serving.scoring import Scorer
from tests.serving.factory import AS_OF, CAPACITY
from tests.serving.test_reasons import EXCLUDED, concern

Candidate = tuple[float, str, str]  # contribution, feature, text


@pytest.fixture(scope="module", params=["capacity", "everyone"])
def listed(
    request: pytest.FixtureRequest, champion: tuple[Config, int], reference: pd.DataFrame
) -> tuple[OutreachList, Scorer]:
    """The date's list at the configured capacity, and one that lists every eligible family.

    The second is where the area, age and household size would show: the model leans
    on them most for the families a capacity-sized list leaves out.
    """
    scorer = Scorer.from_store(champion[0].work_dir, "escalation")
    feats = reference.drop(columns=["score", "closed"])
    audit = reference[["person_id", "age_band", "locality"]]
    k = CAPACITY if request.param == "capacity" else reference["household_id"].nunique()
    return build_list(feats, audit, scorer, as_of=AS_OF, capacity=k), scorer


def _explained(listed: tuple[OutreachList, Scorer], reference: pd.DataFrame):
    """Return the listed children's model inputs and TreeSHAP values (indexed by child)."""
    lst, scorer = listed
    records = reference.set_index("person_id").loc[lst.children["child"]]
    frame = model_frame(records, scorer.columns).set_axis(records.index)
    encoded = scorer.pipeline.named_steps["encode"].transform(frame)[scorer.order]
    contrib = scorer._booster.predict(encoded, pred_contrib=True)[:, :-1]
    shap = pd.DataFrame(contrib, columns=scorer.order, index=records.index)
    return records["household_id"], frame, shap


def _said(name: str, value: object) -> str | None:
    shown = concern(name, value)
    return None if shown is None else reason(name, shown)


def _candidates(row: pd.Series, shap: pd.Series) -> list[Candidate]:
    """Every reason the catalogue allows for one child, largest contribution first."""
    said = ((float(c), str(n), _said(str(n), row[n])) for n, c in shap.items())
    return sorted(((c, n, t) for c, n, t in said if c > 0 and t is not None), reverse=True)


def _family_reasons(per_child: list[list[Candidate]]) -> list[str]:
    """Each child's top three, merged: the family's top three distinct ones."""
    merged = sorted((r for rs in per_child for r in rs[:3]), key=lambda r: -r[0])
    out, seen = [], set()
    for _, name, text in merged:
        if name not in seen and text not in seen and len(out) < 3:
            out.append(name)
            seen |= {name, text}
    return out


def test_every_listed_reason_agrees_with_the_catalogue(listed, reference):
    lst = listed[0]
    family_of, values, shap = _explained(listed, reference)
    assert len(lst.families) >= CAPACITY and sum(map(len, lst.reason_features)) >= CAPACITY
    for i, family in enumerate(lst.families["family"]):
        kids = family_of.index[family_of == family]
        texts = [t for t in lst.families.loc[i, list(REASON_COLUMNS)] if t]
        assert len(texts) == len(lst.reason_features[i])
        for name, text in zip(lst.reason_features[i], texts, strict=True):
            f = FEATURE_BY_NAME[name]
            assert name not in EXCLUDED and f.direction != "none", name
            # the sentence is one child's value, and that value raised the child's score
            # the way the catalogue expects: a "raises" count above zero or a set flag, a
            # "lowers" quantity (months since) small enough to push the score up
            said_by = [k for k in kids if _said(name, values.loc[k, name]) == text]
            assert said_by and any(shap.loc[k, name] > 0 for k in said_by), (family, text)
        per_child = [_candidates(values.loc[k], shap.loc[k]) for k in kids]
        assert lst.reason_features[i] == _family_reasons(per_child), family


def test_excluded_features_raised_listed_scores_but_are_never_named(listed, reference):
    lst = listed[0]
    _, _, shap = _explained(listed, reference)
    named = {n for ns in lst.reason_features for n in ns}
    raised = {c for c in shap.columns if c in EXCLUDED and (shap[c] > 0).any()}
    assert raised and not named & EXCLUDED
    assert not any(FEATURE_BY_NAME[n].direction == "none" for n in named)
