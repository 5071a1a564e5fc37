"""The card's HTML for screen readers and print, and its PDF through headless Chromium.

The card's HTML is finished for screen readers by :func:`stratify.core.html.accessible`
(shared with the outreach page): headings get ids (the first page's ``aria-labelledby``
points at one), column headings get ``scope="col"``, and each folded table takes its
``<summary>`` as its ``<caption>``.

:func:`write_pdf` prints the card to an A4 PDF with Debian's ``chromium`` (headless,
no network, a fresh profile): the one dependency-light way to a PDF that renders exactly
what a browser shows. It returns None when no Chromium is installed, so a run without it
still writes the HTML card.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from stratify.core.files import write_files_atomic

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Headless flags: no sandbox (containers), no GPU, nothing fetched, a fresh profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
ERR_PDF = "chromium could not print {path} to PDF: {why}"
_PAGE = re.compile(rb"/Type\s*/Page\b(?!s)")


def chromium() -> str | None:
    """Return the path of an installed Chromium, or None."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def run_chromium(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium with ``args`` in a fresh, throw-away profile."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="stratify-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)


def page_count(pdf: bytes) -> int:
    """Return the number of pages of a PDF Chromium wrote (its page objects)."""
    return len(_PAGE.findall(pdf))


def print_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print ``html_path`` to ``pdf_path`` (A4 from the page's print stylesheet)."""
    result = run_chromium(
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
    )
    if not pdf_path.is_file() or not pdf_path.read_bytes().startswith(b"%PDF"):
        why = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no PDF"]
        raise RuntimeError(ERR_PDF.format(path=html_path, why=why[0]))


def write_pdf(html_path: Path) -> Path | None:
    """Write ``model_card.pdf`` beside the HTML card; None if no Chromium is installed."""
    if chromium() is None:
        return None
    out = html_path.with_suffix(".pdf")
    with tempfile.TemporaryDirectory(prefix="stratify-pdf-") as tmp:
        staged = Path(tmp) / "card.pdf"
        print_pdf(html_path, staged)
        data = staged.read_bytes()
    write_files_atomic({out: lambda tmp_path: tmp_path.write_bytes(data)})
    return out
