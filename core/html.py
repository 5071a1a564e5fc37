"""Web pages a screen reader can navigate: one helper shared by the card and the lists.

:func:`accessible` finishes generated HTML: headings get ids (so a page can point at one
with ``aria-labelledby``), column headings get ``scope="col"``, and a table folded under
a ``<details>`` takes its ``<summary>`` as its ``<caption>``. Tables that are not folded
carry their own ``<caption>``.
"""

from __future__ import annotations

import html
import re


def _slug(text: str) -> str:
    plain = re.sub(r"<[^>]+>", "", html.unescape(text)).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-") or "section"


def accessible(body: str) -> str:
    """Return HTML with heading ids, column scopes and folded tables' captions."""
    seen: dict[str, int] = {}

    def heading(m: re.Match[str]) -> str:
        slug = _slug(m.group(2))
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:
            slug = f"{slug}-{seen[slug]}"
        return f'<h{m.group(1)} id="{slug}">{m.group(2)}</h{m.group(1)}>'

    body = re.sub(r"<h([1-6])>(.*?)</h\1>", heading, body)
    body = body.replace("<th>", '<th scope="col">')
    return re.sub(
        r"(<summary>(.*?)</summary>\s*)<table>",
        lambda m: f"{m.group(1)}<table>\n<caption>{m.group(2)}</caption>",
        body,
        flags=re.S,
    )
