"""The outreach workbook and page name groups in words and print as a manager would print them."""

from __future__ import annotations

import re
from html import unescape

import openpyxl

from stratify.features.labels import DIMENSION_NAMES, label_lists, meanings
from stratify.serving.outreach.excel import FAIRNESS_SHEET, LIST_SHEET

RAW_CODES = {"1", "2", "0", "9", "True", "False", "<1", "1-4", "5-9", "10-15", "16+"}


def _allowed(localities: set[str]) -> set[str]:
    return set(meanings()) | localities


def test_every_group_in_the_workbook_and_page_is_a_code_list_meaning(outcome):
    localities = set(outcome.outreach.families["locality"].astype(str))
    allowed = _allowed(localities)
    wb = openpyxl.load_workbook(outcome.workbook)
    fair = list(wb[FAIRNESS_SHEET].iter_rows(min_row=2, values_only=True))
    assert fair
    for dim, group, *_rest in fair:
        assert dim in set(DIMENSION_NAMES.values()), dim
        assert group in allowed and group not in RAW_CODES, group
    compared = {r[-1] for r in fair if r[-1]}
    assert compared <= allowed
    ws = wb[LIST_SHEET]
    header = [c.value for c in ws[1]]
    ages = {r[header.index("Age")] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert ages and ages <= set(label_lists()["age_band"].values()), ages
    page = outcome.page.read_text()
    fair_html = page[page.index("<h2>Fairness check</h2>") :]
    pairs = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", fair_html, re.S)
    cells = [unescape(x) for pair in pairs for x in pair]
    assert cells
    dims, groups = cells[0::2], cells[1::2]
    assert set(dims) <= set(DIMENSION_NAMES.values())
    assert set(groups) <= allowed and not set(groups) & RAW_CODES
    list_html = page[: page.index("<h2>How to read")]
    assert not re.search(r"<td>(&lt;1|1-4|5-9|10-15|16\+)</td>", list_html)


def test_workbook_prints_a4_landscape_one_page_wide_with_wrapped_reasons(outcome):
    wb = openpyxl.load_workbook(outcome.workbook)
    for name in (LIST_SHEET, FAIRNESS_SHEET):
        ws = wb[name]
        setup = ws.page_setup
        assert str(setup.paperSize) == ws.PAPERSIZE_A4 == "9" and setup.orientation == "landscape"
        assert int(setup.fitToWidth) == 1 and int(setup.fitToHeight) == 0  # as long as needed
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$1"
    ws = wb[LIST_SHEET]
    header = [c.value for c in ws[1]]
    reasons = [j for j, h in enumerate(header, start=1) if str(h).startswith("Reason")]
    assert len(reasons) == 3
    for row in ws.iter_rows(min_row=2, min_col=reasons[0], max_col=reasons[-1]):
        assert all(c.alignment.wrap_text for c in row)
