"""The outreach list as one self-contained web page (inline CSS; no script, link or image).

The same content as the workbook: a short summary, the list (one block per family: its
rank, score, band and reasons beside its children), how to read it, and the fairness
check. Every value is HTML-escaped (Jinja2 autoescape). For screen readers, as on the
model card (:func:`stratify.core.html.accessible`): the language (en-GB), one ``main``
landmark, headings with ids, a caption on each table, ``scope="col"`` on column headings
and each family's rank as the header of its rows (``scope="rowgroup"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment

from stratify.core.html import accessible
from stratify.serving.outreach.guide import (
    FAIRNESS_COLUMNS,
    LIST_COLUMNS,
    fairness_rows,
    guide,
    list_rows,
    model_label,
    scope,
    summary,
)
from stratify.serving.outreach.ranking import REASON_COLUMNS, OutreachList

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;margin:2rem;color:#1b1b1b;
 line-height:1.4;max-width:1400px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #1f4e79}
.notice{background:#fff4ce;border-left:5px solid #c99a00;padding:.7rem 1rem;margin:1rem 0}
.summary{background:#eaf1f8;padding:.7rem 1rem}.summary p{margin:.2rem 0}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th{background:#1f4e79;color:#fff;text-align:left;padding:.4rem;position:sticky;top:0}
td{padding:.35rem .4rem;border-bottom:1px solid #d0d7de;vertical-align:top}
tbody.family{border-top:2px solid #1f4e79}tbody.family:nth-of-type(even){background:#f5f8fb}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.id{font-family:ui-monospace,Consolas,monospace;font-size:.82rem}
ol.reasons{margin:0;padding-left:1.2rem}dt{font-weight:bold;margin-top:.8rem}dd{margin-left:0}
.muted{color:#666}td.ref{min-width:8rem}
caption{text-align:left;font-weight:bold;padding:.4rem 0;caption-side:top}
tbody th{background:none;color:inherit;position:static;vertical-align:top;text-align:right;
 padding:.35rem .4rem;border-bottom:1px solid #d0d7de}
@media print{th{position:static}body{margin:0}}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outreach list {{ as_of }} ({{ scope }})</title><style>{{ css }}</style></head>
<body>
<main>
<h1>Outreach list: {{ scope }}, {{ as_of }}</h1>
<p class="muted">{{ model }}</p>
<div class="notice"><strong>A prioritisation aid, not a decision.</strong> The score is how
likely, given the records, an escalation to statutory social care within 12 months is; it
is not a judgement about a family. The reasons are statistical associations, not findings.
A practitioner decides whether and how to offer help.</div>
<div class="summary">{% for line in summary %}<p>{{ line }}</p>{% endfor %}</div>
<h2>The list</h2>
<table>
<caption>Families in rank order: the rank, family score, band and reasons of a family
apply to each of its children, listed beside them</caption>
<thead><tr><th>Rank</th><th>Family</th><th>Family score</th><th>Band</th>
<th>Reasons (across the family's children)</th><th>Child</th><th>Age</th>
<th>Child score</th><th>Locality</th><th>Council reference</th></tr></thead>
{% for fam in families %}<tbody class="family">
{% for c in fam.children %}<tr>
{% if loop.first %}{% set n = fam.children|length %}
<th scope="rowgroup" class="num" rowspan="{{ n }}">{{ fam.rank }}</th>
<td class="id" rowspan="{{ n }}">{{ fam.family }}</td>
<td class="num" rowspan="{{ n }}">{{ "%.3f"|format(fam.family_score) }}</td>
<td class="num" rowspan="{{ n }}">{{ fam.band }}</td>
<td rowspan="{{ n }}">{% if fam.reasons %}<ol class="reasons">
{% for r in fam.reasons %}<li>{{ r }}</li>{% endfor %}</ol>
{% else %}<span class="muted">no reason to show</span>{% endif %}</td>
{% endif %}
<td class="id">{{ c.child }}</td><td>{{ c.age_band }}</td>
<td class="num">{{ "%.3f"|format(c.child_score) }}</td><td>{{ c.locality }}</td>
<td class="ref"></td></tr>{% endfor %}</tbody>{% endfor %}
</table>
<h2>How to read this list</h2>
<dl>{% for heading, text in guide %}<dt>{{ heading }}</dt><dd>{{ text }}</dd>{% endfor %}</dl>
<h3>What each column means</h3>
<dl>{% for c in columns %}<dt>{{ c.header }}</dt><dd>{{ c.description }}</dd>{% endfor %}</dl>
<h2>Fairness check</h2>
<table>
<caption>Who is on the list, compared with all eligible children, by group</caption>
<thead><tr>{% for c in fair_columns %}<th>{{ c.header }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in fairness %}<tr>{% for c in fair_columns %}
<td{% if c.format != "text" %} class="num"{% endif %}>{{ r[c.key] }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
</main>
</body></html>
"""

_FORMATS = {"int": "{:,.0f}", "share": "{:.1%}", "ratio": "{:.2f}", "score": "{:.3f}"}


def _families(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group the list's child rows into one block per family."""
    out: list[dict[str, Any]] = []
    for row in rows:
        if row["first"]:
            reasons = [row[c] for c in REASON_COLUMNS if row[c]]
            out.append({**row, "reasons": reasons, "children": []})
        out[-1]["children"].append(row)
    return out


def _formatted(rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for r in rows:
        cells = {}
        for c in FAIRNESS_COLUMNS:
            v = r[c.key]
            ok = c.format != "text" and isinstance(v, int | float) and v == v  # not NaN
            cells[c.key] = _FORMATS[c.format].format(v) if ok else ("" if v != v else str(v))
        out.append(cells)
    return out


def page(lst: OutreachList, card: Path, min_people: int) -> str:
    """Return the outreach web page of ``lst``."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.from_string(_TEMPLATE).render(
        css=_CSS,
        as_of=lst.as_of.isoformat(),
        scope=scope(lst),
        model=model_label(lst.model_version),
        summary=[line.strip() for line in summary(lst)[1:]],
        families=_families(list_rows(lst)),
        guide=guide(lst, card, min_people),
        columns=LIST_COLUMNS,
        fair_columns=FAIRNESS_COLUMNS,
        fairness=_formatted(fairness_rows(lst)),
    )
    return accessible(html)  # heading ids and column scopes, as on the model card


def write_page(lst: OutreachList, path: Path, card: Path, min_people: int) -> None:
    """Write the web page of ``lst`` at ``path`` (the caller makes it atomic)."""
    path.write_text(page(lst, card, min_people), encoding="utf-8")
