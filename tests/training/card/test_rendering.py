"""The card in a real browser: headless Chromium (Debian's ``chromium``).

Nothing overflows the printable width of an A4 page (every folded table opened), and
the first printed page holds the whole summary: the title and the brief, printed alone,
make exactly one A4 page (the print stylesheet breaks the page after the brief). The
whole card prints to A4 as a PDF. ``.ci/run`` installs Chromium when it is missing and
sets ``STRATIFY_REQUIRE_CHROMIUM=1``, so in CI this test runs and never skips.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from stratify.training.audit.report import audit
from stratify.training.card.publish import chromium, page_count, run_chromium, write_pdf
from stratify.training.card.render import write_card
from stratify.training.policy import Policy
from tests.training.card.test_card import METADATA
from tests.training.factories import BAR, CONFIG, evaluation, predictions, registered_run

#: A4 (210 mm) less the print stylesheet's 12 mm margins, at 96 px per inch.
PRINTABLE_PX = round((210 - 24) / 25.4 * 96)
CHECK = """<script>
window.addEventListener("load", () => {
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName + ":" + (e.textContent || "").slice(0, 40));
  const out = document.createElement("pre");
  out.id = "check";
  out.textContent = JSON.stringify({width, scroll: document.documentElement.scrollWidth, wide});
  document.body.appendChild(out);
});
</script>"""
BRIEF_ONLY = """<style>
@media print { main > :not(h1):not(#summary) { display: none !important; } }
</style>"""


def _need_chromium() -> None:
    if chromium() is None:
        reason = "chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
        if os.environ.get("STRATIFY_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def card_html(tmp_path_factory) -> Path:
    _need_chromium()
    out = tmp_path_factory.mktemp("rendered")
    result = audit(predictions(truth=True), config=CONFIG, policy=BAR, seed=2)
    files = write_card(out, evaluation=evaluation(), run=registered_run(), audit=result,
                       plots={}, policy=Policy(fairness=BAR), metadata=METADATA)  # fmt: skip
    return files["html"]


def _variant(card: Path, extra: str, name: str) -> Path:
    page = card.read_text().replace("</body>", extra + "\n</body>")
    path = card.with_name(name)
    path.write_text(page)
    return path


def test_nothing_overflows_the_printable_width(card_html):
    checked = _variant(card_html, CHECK, "check.html")
    done = run_chromium([f"--window-size={PRINTABLE_PX},1100", "--virtual-time-budget=5000",
                         "--dump-dom", checked.as_uri()])  # fmt: skip
    found = re.search(r'<pre id="check">(.*?)</pre>', done.stdout.decode(), re.S)
    assert found, done.stderr.decode()[-500:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["width"] <= PRINTABLE_PX
    assert result["scroll"] <= result["width"], result
    assert result["wide"] == [], result["wide"][:5]


def test_the_first_printed_page_holds_the_summary(card_html, tmp_path):
    brief = _variant(card_html, BRIEF_ONLY, "brief.html")
    pdf = tmp_path / "brief.pdf"
    run_chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", brief.as_uri()])
    assert page_count(pdf.read_bytes()) == 1
    whole = write_pdf(card_html)
    assert whole is not None and whole.name == "model_card.pdf"
    data = whole.read_bytes()
    assert data.startswith(b"%PDF") and page_count(data) > 1
    # A4 portrait: 595 x 842 points
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert boxes and all(abs(float(w) - 595) < 1 and abs(float(h) - 842) < 1 for w, h in boxes)
