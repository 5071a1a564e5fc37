"""``stratify promote`` rewrites the promoted version's card to name who approved it and when.

A card written at training time says "Not yet approved". After promotion the card in
the version's folder must equal, file for file, the card written with that approval
from the start (every figure untouched, only the approval paragraph new); its PDF is
printed again when Chromium is installed, or else a stale one is removed.
"""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from stratify.cli import app
from stratify.features.config import Config, load_config
from stratify.training import tracking
from stratify.training.audit.report import AuditResult, audit
from stratify.training.card.approval import stamp_approval
from stratify.training.card.context import History
from stratify.training.card.history import approval_of
from stratify.training.card.publish import chromium
from stratify.training.card.render import write_card
from stratify.training.card.summary import NOT_APPROVED, Approval, approval_words
from stratify.training.policy import Policy
from stratify.training.run import card_dir_of
from tests.training.card.test_card import METADATA
from tests.training.factories import BAR, CONFIG, evaluation, predictions, registered_run

TARGET = "escalation"
STALE_PDF = b"%PDF-1.4 stale: printed before promotion"


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return audit(predictions(truth=True), config=CONFIG, policy=BAR, seed=2)


def _card(folder, result, history=None):
    return write_card(folder, evaluation=evaluation(), run=registered_run(), audit=result,
                      plots={}, policy=Policy(fairness=BAR), metadata=METADATA,
                      history=history)  # fmt: skip


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, result) -> Config:
    """A registry with one bare version whose card (not yet approved) is in its folder."""
    home = tmp_path_factory.mktemp("registry")
    cfg = load_config(None).model_copy(update={"home": home})
    client = tracking.connect(cfg)
    client.create_registered_model(tracking.model_name(TARGET))
    (home / "model").mkdir()
    for _ in range(2):
        client.create_model_version(tracking.model_name(TARGET), source=(home / "model").as_uri())
    tracking.set_version_tags(cfg, TARGET, 1, {"verdict": "met", "fairness_verdict": "met"})
    tracking.set_version_tags(cfg, TARGET, 2, {"verdict": "met", "fairness_verdict": "met"})
    folder = card_dir_of(cfg, TARGET, 1)
    _card(folder, result)
    (folder / "model_card.pdf").write_bytes(STALE_PDF)
    return cfg


def test_promote_rewrites_the_card_to_name_the_approver(cfg, result, tmp_path, monkeypatch):
    folder = card_dir_of(cfg, TARGET, 1)
    assert "**Approval.** Not yet approved." in (folder / "model_card.md").read_text()
    monkeypatch.setenv("STRATIFY_HOME", str(cfg.home))
    args = ["promote", "--target", TARGET, "--version", "1", "--approved-by", "Jo Bloggs",
            "--reason", "met the bar;\n  reviewed on 1 May"]  # fmt: skip
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "names the approval" in done.output
    tags = tracking.version_info(cfg, TARGET, 1)["tags"]
    md = (folder / "model_card.md").read_text()
    day = tags["approved_at"][:10]
    assert f"**Approval.** Approved by Jo Bloggs on {day}: met the bar; reviewed on 1 May\n" in md
    assert NOT_APPROVED not in md
    assert "Not yet approved" not in (folder / "model_card.html").read_text()
    # the card written with this approval from the start (reason on one line, as stamped)
    approval = approval_of(tags)
    assert approval is not None
    reason = " ".join(approval.reason.split())
    one_line = Approval(approval.approved_by, approval.approved_at, reason)
    expected = _card(tmp_path / "expected", result, History(one_line))
    assert md == expected["markdown"].read_text()
    assert (folder / "model_card.html").read_text() == expected["html"].read_text()
    pdf = folder / "model_card.pdf"
    if chromium() is None:
        assert not pdf.exists()  # no printed card contradicts the HTML one
    else:
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.read_bytes() != STALE_PDF


def test_promote_without_a_card_says_so(cfg, monkeypatch):
    monkeypatch.setenv("STRATIFY_HOME", str(cfg.home))
    args = ["promote", "--target", TARGET, "--version", "2", "--approved-by", "A", "--reason", "r"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output  # the promotion itself stands
    assert "card was not updated" in done.output and "no model card in" in done.output
    assert tracking.alias_version(cfg, TARGET, tracking.CHAMPION) == 2


def test_stamp_escapes_markup_and_leaves_a_foreign_card_alone(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr("stratify.training.card.approval.write_pdf", lambda path: None)
    folder = tmp_path / "card"
    shutil.copytree(card_dir_of(cfg, TARGET, 1), folder)
    odd = Approval("A <b>B</b>", "2026-05-01T10:00:00+00:00", "<script>x</script>")
    stamp_approval(folder, odd)
    page = (folder / "model_card.html").read_text()
    assert "by A &lt;b&gt;B&lt;/b&gt; on 2026-05-01: &lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x" not in page
    # a card with no approval paragraph: an error naming the file, nothing rewritten
    md = folder / "model_card.md"
    md.write_text(md.read_text().replace("**Approval.**", "Approval:"))
    before = (folder / "model_card.html").read_bytes()
    with pytest.raises(ValueError, match=r"model_card\.md has 0 approval paragraphs"):
        stamp_approval(folder, None)
    assert (folder / "model_card.html").read_bytes() == before
    with pytest.raises(FileNotFoundError, match="no model card in"):
        stamp_approval(tmp_path / "empty", None)


def test_the_approvers_words_are_escaped_wherever_the_card_is_written():
    # the card's Markdown allows the template's own HTML: a person's typed words must
    # never become markup, whether the card is written fresh or re-stamped at promotion
    words = approval_words(Approval("A <b>B</b>", "2026-05-01T10:00:00+00:00", "x & <i>y</i>"))
    assert words == "Approved by A &lt;b&gt;B&lt;/b&gt; on 2026-05-01: x &amp; &lt;i&gt;y&lt;/i&gt;"
