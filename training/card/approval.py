"""The card beside a version names its approver once ``stratify promote`` records one.

A card is written when a version is trained, before the working group decides, so its
first page says "Not yet approved". :func:`stamp_approval` rewrites that one paragraph
of the card's Markdown and HTML (and its PDF, when Chromium is installed) from the
registry's promotion tags, leaving every figure as the working group read it: the card
they approved is the card that stays, now naming who approved it and when. The new
files are written under temporary names and moved into place together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt

from stratify.core.files import write_files_atomic
from stratify.training.card.publish import write_pdf
from stratify.training.card.summary import Approval, approval_words

ERR_NO_CARD = "no model card in {folder} (expected model_card.md and model_card.html)"
ERR_PARAGRAPH = "{path} has {n} approval paragraphs, expected exactly one"
_MD = re.compile(r"^\*\*Approval\.\*\* .*?(?=\n\n|\Z)", re.M | re.S)
_HTML = re.compile(r"<p><strong>Approval\.</strong> .*?</p>", re.S)


def _paragraph(approval: Approval | None) -> str:
    # one line: a reason typed over several lines must not split the paragraph
    return "**Approval.** " + " ".join(approval_words(approval).split())


def _swap(pattern: re.Pattern[str], text: str, new: str, path: Path) -> str:
    found = len(pattern.findall(text))
    if found != 1:
        raise ValueError(ERR_PARAGRAPH.format(path=path, n=found))
    return pattern.sub(lambda _: new, text)


def _writer(text: str) -> Callable[[Path], object]:
    return lambda tmp: tmp.write_text(text)


def stamp_approval(folder: Path, approval: Approval | None) -> list[Path]:
    """Rewrite the approval paragraph of the card in ``folder``; return the files written.

    Parameters
    ----------
    folder : Path
        A card folder as :func:`stratify.training.card.render.write_card` writes it.
    approval : Approval or None
        The version's approval (None: the card says it is not yet approved).

    Returns
    -------
    list of Path
        ``model_card.md``, ``model_card.html`` and, when Chromium is installed,
        ``model_card.pdf``. Without Chromium a PDF left from before is removed, so no
        printed card contradicts the HTML one.

    Raises
    ------
    FileNotFoundError
        If the folder holds no card.
    ValueError
        If a card file does not hold exactly one approval paragraph.
    """
    md_path, html_path = folder / "model_card.md", folder / "model_card.html"
    if not (md_path.is_file() and html_path.is_file()):
        raise FileNotFoundError(ERR_NO_CARD.format(folder=folder))
    paragraph = _paragraph(approval)
    # raw HTML off: the approver's name and reason are typed by a person, never markup
    rendered = MarkdownIt("commonmark", {"html": False}).render(paragraph).strip()
    texts = {
        md_path: _swap(_MD, md_path.read_text(), paragraph, md_path),
        html_path: _swap(_HTML, html_path.read_text(), rendered, html_path),
    }
    write_files_atomic({p: _writer(t) for p, t in texts.items()})
    written = [md_path, html_path]
    pdf = write_pdf(html_path)
    if pdf is not None:
        written.append(pdf)
    else:
        html_path.with_suffix(".pdf").unlink(missing_ok=True)
    return written
