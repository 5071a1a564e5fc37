"""The model card, the ATRS record and the audit JSON, rendered from a fake run."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stratify.core.text import SUPPRESSED, fmt_ci
from stratify.features.catalogue import features_for
from stratify.features.labels import group_label
from stratify.training.audit.report import audit
from stratify.training.card.atrs import TO_COMPLETE, atrs_record, unknown_fields
from stratify.training.card.render import SECTIONS, write_card
from stratify.training.card.sections import METRIC_NAMES, MODEL_NAMES
from stratify.training.policy import Policy
from tests.training.factories import (
    BAR,
    CONFIG,
    HIDDEN_AGE,
    evaluation,
    predictions,
    registered_run,
)

POLICY = Policy(fairness=BAR)


METADATA = {
    "target": "escalation",
    "rows": 90000,
    "labelled": 80000,
    "positives": 2000,
    "base_rate": 0.025,
    "date_range": {"start": "2016-04-01", "end": "2024-04-01"},
    "extract_date": "2025-03-31",
    "warehouse_content_hash": "wh-abc",
    "catalogue_hash": "cat-123",
    "features": ["referrals_3m"],
}


def _png(path: Path) -> Path:
    fig = Figure(figsize=(2, 2))
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1], [0, 1])
    fig.savefig(path, format="png")
    return path


@pytest.fixture(scope="module")
def card(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("card")
    frame = predictions(truth=True)
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(len(frame), 3)), columns=["referrals_3m", "a", "b"])
    result = audit(frame, config=CONFIG, policy=BAR, X=x, seed=2)
    plots = {"roc": _png(tmp / "roc.png"), "importance": tmp / "missing.png"}
    return write_card(
        tmp / "out",
        evaluation=evaluation(),
        run=registered_run(),
        audit=result,
        plots=plots,
        policy=POLICY,
        metadata=METADATA,
    )


def _section(text: str, name: str) -> str:
    start = text.index(f"## {name}\n")
    end = text.find("\n## ", start + 3)
    return text[start : end if end > 0 else None]


def _md_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split(" | ")]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
    ]


def test_every_section_heading(card):
    md, page = card["markdown"].read_text(), card["html"].read_text()
    for name in SECTIONS:
        assert f"\n## {name}\n" in md
        assert re.search(
            f'<h2 id="[a-z0-9-]+">{re.escape(html.escape(name, quote=False))}</h2>', page
        )


def test_performance_figures_equal_the_evaluation(card):
    ev = evaluation()
    perf = _section(card["markdown"].read_text(), "Performance")
    rows = _md_rows(perf)
    header = rows[0]
    listed = ("lightgbm", "rule", "logreg")  # the ceiling has a table of its own
    assert header[1:5] == ["Counted over", *(MODEL_NAMES[m] for m in listed)]
    table: dict[str, list[str]] = {}
    for r in rows:  # the first table naming a metric is the performance table
        table.setdefault(r[0], r)
    for key, words in METRIC_NAMES.items():
        assert table[words][1] == ("families" if "capacity" in key else "children")
        for col, model in enumerate(listed, start=2):
            assert table[words][col] == fmt_ci(ev.metrics[model].get(key))
    # lightgbm's ROC AUC: 0.05 + 0.00041 = 0.05041, interval 0.02911 to 0.06911
    assert table["ROC AUC"][2] == "0.050 (0.029 to 0.069)"
    assert table[METRIC_NAMES["ece"]][3] == "n/a"
    assert "0.031 (0.010 to 0.050)" in perf  # the lift, formatted the same way
    assert (
        "| 2023Q2 | LightGBM (refitted before the quarter) | 900 | 21 | 0 | 0 | 0.812 | 0.200 "
        "| 0.310 | 0.400 |" in perf
    )
    assert (
        "| 2023Q2 | prior-referral rule | 900 | 21 | 0 | 0 | 0.600 | n/a | 0.250 | 0.300 |" in perf
    )
    assert "| average precision of LightGBM | >= 0.080 | 0.200 (0.150 to 0.250) | met |" in perf


def test_the_lists_backtest_ceiling_and_registered_model_are_on_the_card(card):
    md = card["markdown"].read_text()
    perf = _section(md, "Performance")
    # the headline in words: 800 families over 4 quarters... here one backtest quarter
    assert "the lists held 800 families (about 800 a quarter) out of 4,100" in perf
    assert "| 2023Q2 | LightGBM (calibrated) | 200 | 31 | 1,025 | 29 |" in perf
    assert "| 2023Q2 | prior-referral rule | 200 | suppressed | 1,025 | 29 |" in perf
    data = _section(md, "Training and evaluation data")
    assert "| registered: trees learnt from | 2016-04-01 | 2023-10-01 | 9,000 | 200 |" in data
    assert (
        "| registered: early stopping and calibration (out of sample) | 2024-01-01 | 2024-01-01 "
        "| 1,300 |" in data
    )
    assert "| left out | 398 | 38 |" in data  # 5,400 - 5,002 rows, 160 - 122 positives
    assert "out-of-time estimates of the training procedure" in data
    # the backtest also as a file beside the card, suppressed the same way
    assert card["backtest"].read_text().splitlines() == [
        "quarter,model,listed,listed_with_outcome,eligible_families,families_with_outcome",
        "2023Q2,lightgbm,200,31,1025,29",
        "2023Q2,rule,200,suppressed,1025,29",
    ]
    # the ceiling on its own sample, with its size
    assert "| ROC AUC | 1,500 children, 40 positives |" in perf


def test_details_and_splits_from_the_evaluation_and_run(card):
    md = card["markdown"].read_text()
    rows = {r[0]: r[1] for r in _md_rows(_section(md, "Model details")) if len(r) == 2}
    assert rows["Registered version"] == "3" and rows["Training run"] == "run-0123"
    assert rows["Feature table hash"] == "ft-def" and rows["Run config hash"] == "cfg-9"
    assert rows["Model name"] == "stratify-escalation"
    assert "calibrated (isotonic)" in rows["Model type"]
    data = _md_rows(_section(md, "Training and evaluation data"))
    # test: 5,002 rows, 122 positives: base rate 122 / 5002 = 0.0244
    assert ["test", "2016-04-01", "2022-01-01", "5,002", "3,000", "122", "0.024"] in data


def test_html_is_self_contained(card):
    page = card["html"].read_text()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<link" not in page and "<script" not in page
    srcs = re.findall(r'<img src="([^"]+)"', page)
    # the ROC plot, calibration by group and the card's own two pictures; the others are missing
    assert len(srcs) == 4
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<style>" in page
    md = card["markdown"].read_text()
    for name in ("roc", "calibration_by_group", "groups_chart", "backtest_chart"):
        assert f"]({name}.png)" in md
        assert card[name].is_file()
    assert md.count("_Plot not available for this run._") == 5
    assert card["roc"].is_file() and card["calibration_by_group"].is_file()


HIDDEN_ROWS = [["Age", group_label("age_band", g)] for g in HIDDEN_AGE] + [
    ["Sex", group_label("sex", "9")]
]


def _hidden_rows_clean(rows: list[list[str]]) -> int:
    seen = 0
    for r in rows:
        if r[:2] in HIDDEN_ROWS:
            seen += 1
            if "not assessable" in r:  # a check: its figure is suppressed
                assert r[5] == SUPPRESSED
                continue
            figures = r[2:] if r[2] == SUPPRESSED else r[3:]  # r[2] may name the reference
            assert all(c == SUPPRESSED for c in figures), r
    return seen


def test_no_suppressed_figure_leaks_into_the_card(card):
    md = card["markdown"].read_text()
    assert _hidden_rows_clean(_md_rows(_section(md, "Fairness"))) >= 12
    assert _hidden_rows_clean(_md_rows(_section(md, "Training and evaluation data"))) == 3
    page = card["html"].read_text()
    rows = [
        [html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", page, re.S)
    ]
    assert _hidden_rows_clean(rows) >= 15
    doc = json.loads(card["audit"].read_text())
    for row in doc["groups"]:
        if row["dimension"] == "age_band" and row["group"] in HIDDEN_AGE:
            assert {v for k, v in row.items() if k not in ("dimension", "group")} == {SUPPRESSED}


def test_fairness_section_content(card):
    fair = _section(card["markdown"].read_text(), "Fairness")
    for words in (
        "false negative rate",
        "assistive",
        "Aequitas",
        "### True need",
        "### Proxy check",
        "Equality Act 2010",
        "legal advice",
        "not assessable",
        "recall at capacity ratio",
        "observed/expected",
        "| Recall ratio |",
        "required dimensions (Ethnic group, Sex, Age, Locality)",
    ):
        assert words in fair
    assert "Overall fairness: **not met**" in fair
    assert "max_calibration_gap" not in fair and "nan" not in fair


def test_true_need_section_only_with_ground_truth(tmp_path):
    result = audit(predictions(), config=CONFIG, policy=BAR)
    out = write_card(
        tmp_path, evaluation=evaluation(), run=registered_run(), audit=result, plots={},
        policy=POLICY, metadata=METADATA,
    )  # fmt: skip
    md = out["markdown"].read_text()
    assert "### True need" not in md and "### Proxy check" not in md
    assert "synthetic data" not in md
    assert not list(tmp_path.glob("*.tmp*"))  # the temporary files were all moved
    second = write_card(
        tmp_path,
        evaluation=evaluation(),
        run=registered_run(version=4),
        audit=result,
        plots={},
        policy=POLICY,
        metadata=METADATA,
    )
    assert "version 4" in second["markdown"].read_text()


def test_reason_catalogue_lists_every_feature(card):
    cat = _section(card["markdown"].read_text(), "Reason catalogue")
    names = {r[0] for r in _md_rows(cat)[1:]}
    assert names == {f.name for f in features_for("escalation")}
    assert (
        "| referrals_3m | Referrals of this child in the last 3 months | N referrals for this child"
        in cat
    )


def test_plain_language(card):
    md = card["markdown"].read_text()
    assert not re.search(r"\bwill\b", md, re.I)
    assert "predicts that" not in md and "the model decides" not in md
    assert "prioritisation aid" in md and "the score estimates how likely" in md
    oversight = _section(md, "Human oversight and contestability")
    assert "subject access request" in oversight and TO_COMPLETE in oversight
    signoff = _section(md, "Sign-off")
    assert all(f"| {f} | |" in signoff for f in ("Reviewed by", "Role", "Date"))


def test_atrs_record(card):
    record = json.loads(card["atrs"].read_text())
    assert record["standard_version"] == "3.0"
    assert {
        "name",
        "description",
        "website_url",
        "contact_email",
        "organisation_name",
        "phase",
    } <= set(record["tier_1"])
    assert set(record["tier_2"]) == {
        "owner_and_responsibility",
        "description_and_rationale",
        "decision_making_process",
        "tool_specification",
        "risks_mitigations_and_impact_assessments",
    }
    assert record["tier_1"]["name"] == "stratify-escalation"
    model = record["tier_2"]["tool_specification"]["model_specification"][0]
    assert "ROC AUC 0.050 (0.029 to 0.069)" in model["model_performance"]
    assert model["model_version"] == "3"
    unknown = list(unknown_fields(record))
    assert "tier_1.contact_email" in unknown and "tier_2.owner_and_responsibility.team" in unknown
    assert "tier_1.name" not in unknown
    sensitive = record["tier_2"]["tool_specification"]["data_specification"][0][
        "sensitive_attributes"
    ]
    assert "Ethnicity" in sensitive


def test_atrs_marks_a_missing_version():
    result = audit(predictions(), config=CONFIG, policy=BAR)
    record = atrs_record(
        evaluation=evaluation(),
        run=None,
        audit=result,
        policy=POLICY,
        metadata=METADATA,
    )
    path = "tier_2.tool_specification.model_specification.0.model_version"
    assert path in set(unknown_fields(record))


def test_a_threshold_capacity_shows_its_monthly_step_down_backtest(tmp_path):
    import dataclasses

    from stratify.training.evaluation import MonthRow

    rows = (
        MonthRow("2023-04", 20, 14, 80, 18, (0.7, 0.48, 0.85), (0.225, 0.147, 0.328)),
        MonthRow("2023-05", 3, SUPPRESSED, 60, 12, None, (0.2, 0.118, 0.318)),
    )
    ev = dataclasses.replace(evaluation(), target="rereferral", monthly_backtest=rows)
    result = audit(predictions(), config=CONFIG, policy=BAR, seed=2)
    out = write_card(tmp_path, evaluation=ev, run=registered_run(), audit=result, plots={},
                     policy=POLICY, metadata=METADATA)  # fmt: skip
    perf = _section(out["markdown"].read_text(), "Performance")
    assert "### Monthly step-down lists (backtest)" in perf
    assert (
        "| 2023-04 | 20 | 14 | 0.700 (0.480 to 0.850) | 80 | 18 | 0.225 (0.147 to 0.328) |" in perf
    )
    assert "| 2023-05 | 3 | suppressed | suppressed | 60 | 12 | 0.200 (0.118 to 0.318) |" in perf
    lines = out["stepdown_backtest"].read_text().splitlines()
    assert lines[1] == "2023-04,20,14,0.7,0.48,0.85,80,18,0.225,0.147,0.328"
    assert lines[2].startswith("2023-05,3,suppressed,suppressed,suppressed,suppressed,60,")
