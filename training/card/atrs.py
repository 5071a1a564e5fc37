"""The Algorithmic Transparency Recording Standard (ATRS v3.0) record of one model version.

Field names follow the v3.0 template (March 2024): ``metadata`` (0.1-0.10), ``tier_1``
(the title information 0.11-0.15 and the tier 1 overview 1.1-1.4) and ``tier_2`` (2.1
owner and responsibility, 2.2 description and rationale, 2.3 decision-making process,
2.4 tool, model and data specification, 2.5 risks, mitigations and impact
assessments). What the run knows is filled in; everything else is the literal text
``"COUNCIL TO COMPLETE: <what is needed>"``, so nothing is published by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stratify.core.text import fmt_ci
from stratify.training.audit.report import AuditResult
from stratify.training.card.sections import METRIC_NAMES, decision_point
from stratify.training.evaluation import Evaluation, RegisteredRun
from stratify.training.policy import Policy

STANDARD_VERSION = "3.0"
TO_COMPLETE = "COUNCIL TO COMPLETE: "
HEADLINE = ("precision_at_capacity", "recall_at_capacity", "roc_auc", "average_precision")


def todo(what: str) -> str:
    """Return the marker of a field the council must complete, saying what is needed."""
    return f"{TO_COMPLETE}{what}"


def unknown_fields(record: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Yield the dotted path of every field still marked for the council to complete."""
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from unknown_fields(value, f"{path}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from unknown_fields(item, f"{path}.{i}.")
        elif isinstance(value, str) and value.startswith(TO_COMPLETE):
            yield path


def _tier_1(evaluation: Evaluation) -> dict[str, Any]:
    name = evaluation.model_name
    return {
        "title": f"{name}: prioritising early help outreach",
        "organisation_name": todo("the council's full name"),
        "phase": todo("pre-deployment, beta/pilot, production or retired"),
        "region": todo("the area the tool affects (e.g. the council's area, England)"),
        "one_sentence_description": "A score that helps early help managers decide which "
        "families to offer help to first, reviewed by a practitioner every time.",
        "name": name,
        "description": "Each quarter the tool ranks children known to the council's services "
        "by how likely a statutory child protection response is in the next year, given "
        "the records held. Early help managers use the ranked list, with plain-language "
        "reasons, to offer help earlier to families who may need it, within the capacity "
        "they have. It never decides anything about a family: a practitioner reviews every "
        "list and every family.",
        "website_url": todo("a page about the tool on the council's website"),
        "contact_email": todo("a team email address for questions about this record"),
    }


def _owner() -> dict[str, Any]:
    return {
        "organisation_or_department": todo("the council and directorate responsible"),
        "team": todo("the team responsible for the tool's use"),
        "senior_responsible_owner": todo("name and role of the senior responsible owner"),
        "external_supplier_involvement": todo("whether external suppliers were involved"),
        "external_supplier": todo("supplier name, or 'none'"),
        "companies_house_number": todo("supplier's Companies House number, or 'none'"),
        "external_supplier_role": todo("what the supplier did, or 'none'"),
        "procurement_procedure_type": todo("procurement route, or 'not procured'"),
        "data_access_terms": todo("terms of any supplier access to the data, or 'none'"),
    }


def _rationale(evaluation: Evaluation) -> dict[str, Any]:
    metrics = evaluation.metrics
    baselines = "; ".join(
        f"{m}: average precision {fmt_ci(metrics[m].get('average_precision'))}"
        for m in ("rule", "logreg")
        if m in metrics
    )
    return {
        "detailed_description": "Point-in-time features of the child, the household and the "
        "area (prior referrals, assessments, plans, early help episodes, agency events, "
        "household changes) are computed from the council's records dated strictly before "
        "each decision point. A gradient-boosted tree model (LightGBM) turns them into a "
        "score, calibrated on a later time slice so that it reads as a likelihood. The "
        "families with the highest scores, up to the outreach capacity, form the list; SHAP "
        "values are turned into plain-language reasons from a fixed catalogue.",
        "scope": "For prioritising proactive early help outreach within limited capacity. "
        "Not for statutory thresholds, eligibility, section 47 or care decisions, for any "
        "individual without a practitioner's review, or for other councils' data without "
        "retraining and re-audit.",
        "benefit": "Helps limited early help capacity reach families earlier, consistently "
        "and with stated reasons. " + todo("local evidence of the expected benefit"),
        "previous_process": todo("how outreach was prioritised before the tool"),
        "alternatives_considered": "Two simpler baselines were trained and compared on the "
        f"same test window ({baselines or 'figures not recorded'}). "
        + todo("non-algorithmic alternatives considered"),
    }


def _process(evaluation: Evaluation, audit: AuditResult) -> dict[str, Any]:
    return {
        "process_integration": "Each quarter a batch job scores every eligible child and "
        "writes a ranked outreach list per locality. Early help managers use it as a "
        "starting point when deciding whom to contact; it sits beside, never replaces, "
        "referrals and professional judgement.",
        "provided_information": "Per family: a score, a band, up to a few plain-language "
        "reasons and the model version, in an Excel list and a web page.",
        "frequency_and_scale_of_usage": f"Quarterly; capacity {evaluation.capacity}. "
        f"The test window held {audit.settings.get('rows')} decision points from "
        f"{audit.settings.get('families')} families.",
        "human_decisions_and_review": "A practitioner reviews every list and each family's "
        "records before any contact, and can remove or add anyone. The risk-stratification "
        "working group reviews each model version against its published bar before use.",
        "required_training": todo("training given to managers and practitioners who use the list"),
        "appeals_and_review": "A family can ask what is held about them, including any score, "
        "through a subject access request to the council's data protection officer ("
        + todo("the data protection officer's contact")
        + ").",
    }


def _performance_text(evaluation: Evaluation, audit: AuditResult) -> str:
    ours = evaluation.metrics.get("lightgbm", {})
    figures = "; ".join(f"{METRIC_NAMES[k]} {fmt_ci(ours.get(k))}" for k in HEADLINE)
    test = evaluation.split.test
    fairness = audit.verdict
    return (
        f"Out-of-time estimates of the training procedure on the final test window "
        f"({test.start} to {test.end}; eligible families only; precision and recall at "
        f"capacity are per listed family), with 95 % family bootstrap intervals: "
        f"{figures}. Performance bar: "
        f"{evaluation.verdict.overall}. Fairness bar: {fairness.overall} ({fairness.met} "
        f"checks met, {fairness.not_met} not met, {fairness.not_assessable} not "
        "assessable); see the model card for the figures by group."
    )


def _model(evaluation: Evaluation, run: RegisteredRun | None, audit: AuditResult) -> dict[str, Any]:
    label = decision_point(evaluation.target, evaluation.horizon_months)[1]
    protected = ", ".join(evaluation.protected_inputs) or "none"
    return {
        "model_name": evaluation.model_name,
        "model_version": str(todo("registered version") if run is None else run.version),
        "model_task": f"Estimate how likely the outcome is, given the records: {label}.",
        "model_input": f"{len(evaluation.features)} family-context features "
        "(counts, flags and months since events, from the feature catalogue); protected "
        f"characteristics used as inputs: {protected}.",
        "model_output": "A calibrated probability between 0 and 1, a band, and reasons.",
        "model_architecture": "LightGBM gradient-boosted decision trees with a small "
        "time-aware hyperparameter search and early stopping, calibrated on a later slice; "
        "after evaluation, refitted on every decision point with a complete outcome window "
        f"({evaluation.champion.train.start} to {evaluation.champion.train.end}; early "
        f"stopping and calibration fitted out of sample on {evaluation.champion.calibrate.start}"
        f" to {evaluation.champion.calibrate.end}).",
        "model_performance": _performance_text(evaluation, audit),
        "datasets": ["the council's children's services records (warehouse extract)"],
        "dataset_purposes": "Earliest period: training; later slice: calibration; most "
        "recent complete window: testing and the fairness audit.",
    }


def _data(evaluation: Evaluation, metadata: dict[str, Any]) -> dict[str, Any]:
    parts = evaluation.split.parts()
    sizes = ", ".join(f"{name} {part.rows} rows" for name, part in parts.items())
    return {
        "source_data_name": "Children's services records: referrals, assessments, section 47 "
        "enquiries, CIN and CP plans, looked-after episodes, early help and agency events.",
        "data_modality": "Tabular",
        "data_description": "Pseudonymous, dated records of children, households and "
        "services, aligned with the CIN census.",
        "data_quantities": f"Feature table: {metadata.get('rows')} decision points, "
        f"{metadata.get('positives')} positives (base rate {metadata.get('base_rate')}); "
        f"split: {sizes or 'not recorded'}.",
        "sensitive_attributes": "Ethnicity, sex, disability and age band (audit only, not "
        "model inputs unless listed above); area deprivation and locality are inputs and "
        "can act as proxies (see the model card's proxy check).",
        "data_completeness_and_representativeness": "Records cover children known to "
        "services, not all children; need that is never noticed is never recorded. "
        + todo("completeness of the council's extract"),
        "source_data_url": "Not published: the records are personal data about children.",
        "data_collection": "Collected for casework and statutory returns, repurposed here "
        "for prioritising early help; labels record the system's response, not need.",
        "data_cleaning": "Each extract is validated against the schema, identifiers are "
        "pseudonymised (keyed hash), and only facts dated before each decision point are used.",
        "data_sharing_agreements": todo("data sharing agreements with partner agencies"),
        "data_access_and_storage": "Pseudonymous data in a local analytical store; no names "
        "or addresses leave ingest. " + todo("who has access, retention period, owner"),
    }


def _risks(policy: Policy) -> dict[str, Any]:
    return {
        "impact_assessment": todo(
            "DPIA, Equality Impact Assessment and any algorithmic impact "
            "assessment: names, dates and findings"
        ),
        "risks_and_mitigations": [
            "Bias from recording: labels reflect who gets noticed. Mitigation: fairness audit "
            "by group each version, with a true-need view on synthetic data.",
            "Over-reliance on the score. Mitigation: it never decides; a practitioner reviews "
            "every list; reasons are shown.",
            "Proxies for protected characteristics. Mitigation: proxy check in every audit.",
            "Drift after changes in services or recording. Mitigation: quarterly retraining "
            "and comparison with the champion before promotion.",
            f"Fairness bar set by {policy.owner}; versions that do not meet it are reported "
            "as such in the model card.",
        ],
    }


def _tool(
    evaluation: Evaluation, run: RegisteredRun | None, audit: AuditResult, metadata: dict[str, Any]
) -> dict[str, Any]:
    return {
        "system_architecture": "Warehouse (DuckDB) -> feature build -> LightGBM training with "
        "temporal splits -> fairness audit and model card -> registry (MLflow) -> scoring "
        "service and batch outreach lists (BentoML), with an audit log of every request.",
        "phase": todo("current phase"),
        "maintenance": "Designed to be retrained each quarter on the newest extract (each "
        "challenger evaluated, audited and carded, and promoted only with a named "
        "approver); this version was trained once, on the extract of "
        f"{metadata.get('extract_date')}. "
        + todo("retraining and post-deployment review schedule"),
        "models": [
            f"{evaluation.model_name} (LightGBM)",
            "prior-referral rule (baseline)",
            "logistic regression (baseline)",
        ],
        "model_specification": [_model(evaluation, run, audit)],
        "data_specification": [_data(evaluation, metadata)],
    }


def atrs_record(
    *,
    evaluation: Evaluation,
    run: RegisteredRun | None,
    audit: AuditResult,
    policy: Policy,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Return the ATRS v3.0 record of one model version.

    Parameters
    ----------
    evaluation : Evaluation
        The run's evaluation (metrics with CIs, split, verdict, features).
    run : RegisteredRun or None
        The registered version (None: not registered, marked for the council).
    audit : AuditResult
        The fairness audit (only overall figures and the verdict are used).
    policy : Policy
        The working group's bar.
    metadata : dict
        The feature table's metadata.

    Returns
    -------
    dict
        ``standard_version``, ``metadata``, ``tier_1`` and ``tier_2``; unknown fields hold
        ``"COUNCIL TO COMPLETE: ..."``.
    """
    target = evaluation.target
    meta = {
        "id": todo("issued by the ATRS team on publication"),
        "standard_version": STANDARD_VERSION,
        "organisation_type": todo("e.g. local authority"),
        "function": "Children's services: early help",
        "capability": "Risk stratification (prioritisation aid)",
        "task": f"Prioritising proactive early help outreach ({target})",
        "tags": ["children's services", "early help", "risk stratification", "fairness audit"],
        "date_of_completion": todo("date the record is completed"),
        "date_updated": evaluation.created,
        "date_archived": todo("date archived, if archived"),
    }
    return {
        "standard_version": STANDARD_VERSION,
        "metadata": meta,
        "tier_1": _tier_1(evaluation),
        "tier_2": {
            "owner_and_responsibility": _owner(),
            "description_and_rationale": _rationale(evaluation),
            "decision_making_process": _process(evaluation, audit),
            "tool_specification": _tool(evaluation, run, audit, metadata),
            "risks_mitigations_and_impact_assessments": _risks(policy),
        },
    }
