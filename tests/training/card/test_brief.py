"""The card's first page: its figures are the evaluation's, its groups are words, never codes.

The evaluation is the hand-built one of ``tests/training/factories.py``: LightGBM's
precision at capacity is 0.05 + 0.01 x 4 + 0.00041 = 0.09041 (interval 0.06911 to
0.10911), the rule's 0.10 + 0.04 + 0.00041 = 0.14041 (0.11911 to 0.15911); the lists held
800 families over one backtest quarter, so 800 a quarter: LightGBM's lists about
0.09041 x 800 = 72.3 families with the outcome (55.3 to 87.3), the rule's about 112.3
(95.3 to 127.3). Recall at capacity (metric 5): 0.10041, 10 % (8 % to 12 %), and the
rule's 0.15041, 15 % (13 % to 17 %).
"""

from __future__ import annotations

import itertools
import math
import re

import pytest

from stratify.features.labels import DIMENSION_NAMES, label_lists, meanings
from stratify.training.audit.report import audit
from stratify.training.card.context import History
from stratify.training.card.render import write_card
from stratify.training.card.summary import Approval, largest_disparities, summary
from stratify.training.policy import Policy
from tests.training.card.test_card import METADATA
from tests.training.factories import BAR, CONFIG, evaluation, predictions, registered_run

POLICY = Policy(fairness=BAR)


@pytest.fixture(scope="module")
def result():
    return audit(predictions(truth=True), config=CONFIG, policy=BAR, seed=2)


def _brief(md: str) -> str:
    return md[md.index('<section id="summary"') : md.index("</section>")]


def test_first_page_figures_equal_the_evaluations(tmp_path, result):
    ev = evaluation()
    out = write_card(tmp_path, evaluation=ev, run=registered_run(), audit=result, plots={},
                     policy=POLICY, metadata=METADATA)  # fmt: skip
    brief = _brief(out["markdown"].read_text())
    assert "Of the 800 families the list offers help each quarter, about 72 (55 to 87)" in brief
    assert "the prior-referral rule: most referrals first): about 112 (95 to 127)" in brief
    assert "the list reached 10% (8% to 12%); the current way, 15% (13% to 17%)" in brief
    # the same figures worked out from the evaluation, not from the card's own code
    p = ev.metrics["lightgbm"]["precision_at_capacity"]
    per_quarter = ev.operating_point.listed / len({r.quarter for r in ev.backtest})
    assert f"about {p.value * per_quarter:,.0f} ({p.low * per_quarter:,.0f} to " in brief
    assert "**Performance bar: met.**" in brief  # the factory's one criterion is met
    assert f"**Fairness bar: {result.verdict.overall}.**" in brief
    assert "Not yet approved" in brief and "first version of this model" in brief
    assert "12 months" in brief and "It is not for" in brief and "It is for" in brief


def test_disparities_on_the_first_page_are_the_audits_checks(tmp_path, result):
    shown = largest_disparities(result)
    assert 1 <= len(shown) <= 3
    checks = {(c.criterion, c.value) for c in result.checks if isinstance(c.value, float)}
    for d in shown:
        # the ratio (or its inverse, when the reference is the group served less well)
        assert any(crit == d.criterion and (math.isclose(v, d.ratio.value)
                   or math.isclose(1 / v, d.ratio.value)) for crit, v in checks)  # fmt: skip
        assert d.ratio.value <= 1  # the group served less well is named first
    out = write_card(tmp_path, evaluation=evaluation(), run=registered_run(), audit=result,
                     plots={}, policy=POLICY, metadata=METADATA)  # fmt: skip
    brief = _brief(out["markdown"].read_text())
    for d in shown:
        assert d.words() in brief


def test_approval_and_changes_since_the_previous_version(tmp_path, result):
    import dataclasses

    ev = evaluation()
    old = dataclasses.replace(ev, features=("referrals_3m", "ever_cp_plan"))
    history = History(Approval("A. Manager", "2026-12-01T10:00:00+00:00", "bar met"), old,
                      "version 2, the version in use")  # fmt: skip
    out = write_card(tmp_path, evaluation=ev, run=registered_run(), audit=result, plots={},
                     policy=POLICY, metadata=METADATA, history=history)  # fmt: skip
    brief = _brief(out["markdown"].read_text())
    assert "Approved by A. Manager on 2026-12-01: bar met" in brief
    assert "Against version 2, the version in use:" in brief
    assert "inputs added: referrals_12m; removed: ever_cp_plan" in brief
    s = summary(ev, result, previous=old)
    assert s.ours is not None and s.ours.value == pytest.approx(0.09041 * 800)


def _allowed_groups() -> set[str]:
    one = set(meanings())
    pairs = {f"{a}, {b}" for a, b in itertools.product(one, one)}
    return one | pairs | {""}  # "" is an empty cell: a check with no group to compare with


def _allowed_dimensions() -> set[str]:
    one = set(DIMENSION_NAMES.values())
    return one | {f"{a} and {b[0].lower()}{b[1:]}" for a, b in itertools.product(one, one)}


def _tables(md: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in md.splitlines():
        if line.startswith("| ---"):
            continue
        if line.startswith("| "):
            current.append([c.strip() for c in line.strip("|").split(" | ")])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_every_group_label_on_the_card_is_a_code_list_meaning(tmp_path, result):
    out = write_card(tmp_path, evaluation=evaluation(), run=registered_run(), audit=result,
                     plots={}, policy=POLICY, metadata=METADATA)  # fmt: skip
    md = out["markdown"].read_text()
    groups, dims = _allowed_groups(), _allowed_dimensions()
    seen = 0
    for table in _tables(md):
        header = table[0]
        for key, allowed in (("Group", groups), ("Compared with", groups),
                             ("Dimension", dims), ("Characteristic", dims)):  # fmt: skip
            if key not in header:
                continue
            j = header.index(key)
            for row in table[1:]:
                seen += 1
                assert row[j] in allowed, (key, row[j])
    assert seen > 100
    # the codes this audit holds never reach a reader
    # (the numeric codes "1", "2", "9" are checked above, as group cells: as text they are
    # also counts)
    for code in ("| <1 |", "| 16+ |", "| age_band |", "| sex |", "| ethnic_group x sex |",
                 "| True |", "| False |", "White x 1"):  # fmt: skip
        assert code not in md, code
    assert "Male" in md and "Under 1 year" in md and "Ethnic group and sex" in md
    assert set(label_lists()["sex"].values()) >= {"Male", "Female"}


def test_pictures_have_alt_text_and_a_reading(tmp_path, result):
    out = write_card(tmp_path, evaluation=evaluation(), run=registered_run(), audit=result,
                     plots={}, policy=POLICY, metadata=METADATA)  # fmt: skip
    md = out["markdown"].read_text()
    for name in ("groups_chart", "backtest_chart", "calibration_by_group"):
        alt = re.search(rf"!\[([^\]]+)\]\({name}\.png\)\n\n_Reading: ([^_]+)_", md)
        assert alt, name
        assert len(alt.group(1)) > 40 and len(alt.group(2)) > 40
    # the backtest's one quarter: LightGBM's 31 against the rule's suppressed count
    assert "Too few families to compare the two lists quarter by quarter" in md
    page = out["html"].read_text()
    assert page.count("<details>") >= 10 and "<caption>" in page and 'scope="col"' in page
    assert (
        page.index('id="summary"')
        < page.index('id="rationale"')
        < page.index('id="appendix-technical-identifiers"')
    )
    assert page.index("Feature table hash") > page.index('id="appendix-technical-identifiers"')
