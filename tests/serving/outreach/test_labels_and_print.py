"""The outreach workbook and page name groups in words and print as a manager would print them."""

from __future__ import annotations

import math
import re
from html import unescape
from html.parser import HTMLParser

import openpyxl

from stratify.features.labels import DIMENSION_NAMES, label_lists, meanings
from stratify.serving.outreach.excel import FAIRNESS_SHEET, LINE_HEIGHT, LIST_SHEET, wrapped_lines

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
    fair_html = page[page.index("Fairness check</h2>") :]
    pairs = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", fair_html, re.S)
    cells = [unescape(x) for pair in pairs for x in pair]
    assert cells
    dims, groups = cells[0::2], cells[1::2]
    assert set(dims) <= set(DIMENSION_NAMES.values())
    assert set(groups) <= allowed and not set(groups) & RAW_CODES
    list_html = page[: page.index(">How to read")]
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


def _print_scale(ws) -> float:
    """Excel's fit-to-width scale: the printable width over the columns' printed width.

    A column ``w`` characters wide is ``7 w + 5`` pixels with the default font (Calibri
    11: 7 px its widest digit, 5 px of padding), 0.75 points a pixel at 96 dpi; A4
    landscape is 297 mm wide, less the left and right margins (inches, 72 points each).
    """
    widths = [ws.column_dimensions[c].width for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: ws.max_column]]
    printed = sum(7 * w + 5 for w in widths) * 0.75
    page = 297 / 25.4 * 72 - (ws.page_margins.left + ws.page_margins.right) * 72
    return page / printed


def test_list_sheet_prints_one_page_wide_at_a_readable_scale(outcome):
    """The list's 14 columns summed 308 characters (47 %); now 200: 784 pt / 1103 pt = 71 %."""
    ws = openpyxl.load_workbook(outcome.workbook)[LIST_SHEET]
    widths = [ws.column_dimensions[c].width for c in "ABCDEFGHIJKLMN"]
    assert ws.max_column == 14 and sum(widths) == 200
    assert _print_scale(ws) >= 0.70
    fair = openpyxl.load_workbook(outcome.workbook)[FAIRNESS_SHEET]
    assert _print_scale(fair) >= 0.70
    # every wrapped cell's row is at least as tall as its text needs at width - 1 a line
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if not (cell.alignment.wrap_text and cell.value):
                continue
            width = ws.column_dimensions[cell.column_letter].width
            need = math.ceil(len(str(cell.value)) / (width - 1))
            height = ws.row_dimensions[cell.row].height or LINE_HEIGHT
            assert height >= LINE_HEIGHT * need, (header[cell.column - 1], cell.value, height)
    assert any(ws.row_dimensions[r].height for r in range(2, ws.max_row + 1))


def test_wrapped_lines_by_hand():
    # width 8 holds 7 characters a line: "aaa bbb" | "ccc"; a 10-letter word in 4s: 4 + 4 + 2
    assert wrapped_lines("aaa bbb ccc", 8) == 2
    assert wrapped_lines("abcdefghij", 5) == 3
    assert wrapped_lines("", 10) == wrapped_lines(None, 10) == 1
    assert wrapped_lines("a bb", 5) == 1


class _Structure(HTMLParser):
    """Collects what a screen reader relies on: landmarks, headings, tables and headers."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_page_is_navigable_with_a_screen_reader(outcome):
    page = outcome.page.read_text()
    parsed = _Structure()
    parsed.feed(page)
    tags = parsed.tags
    assert tags[0] == ("html", {"lang": "en-GB"})
    assert [t for t, _ in tags].count("main") == 1
    heads = [a.get("id") for t, a in tags if re.fullmatch(r"h[1-6]", t)]
    assert heads and all(heads) and len(set(heads)) == len(heads)
    tables = [i for i, (t, _) in enumerate(tags) if t == "table"]
    assert len(tables) == 2
    assert all(tags[i + 1][0] == "caption" for i in tables)  # the caption comes first
    ths = [a for t, a in tags if t == "th"]
    assert ths and all(a.get("scope") in ("col", "rowgroup") for a in ths)
    families = sum(1 for t, a in tags if t == "tbody" and a.get("class") == "family")
    rowgroups = sum(1 for a in ths if a.get("scope") == "rowgroup")
    assert families == len(outcome.outreach.families) == rowgroups
