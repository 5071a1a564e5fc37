"""The retraining report: champion against challenger, drift, list stability, what changed.

Pure: :func:`render` turns the pieces (a :class:`ReportInput`) into Markdown, and
:func:`write_report` writes it with one self-contained HTML copy (the model card's
renderer) atomically. The report ends in a recommendation; it never promotes, and its
"Decision" section stays pending until a named approver acts (:func:`decision_text`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stratify.core.files import write_files_atomic
from stratify.core.text import fmt, fmt_ci
from stratify.features.catalogue import FEATURE_BY_NAME
from stratify.features.labels import dimension_label, group_label
from stratify.training.card.formatting import md_table
from stratify.training.card.render import to_html
from stratify.training.evaluation import Evaluation
from stratify.training.retrain.compare import (
    CALIBRATION,
    HEADLINE,
    MODELS,
    RANKING,
    Comparison,
    Recommendation,
)
from stratify.training.retrain.drift import DriftReport

REPORT_MD, REPORT_HTML = "retraining_report.md", "retraining_report.html"
PENDING = "pending"
METRIC_WORDS = {
    "precision_at_capacity": "precision at capacity (families)",
    "recall_at_capacity": "recall at capacity (families)",
    "roc_auc": "ROC AUC (children)",
    "average_precision": "average precision (children)",
    "brier": "Brier score (lower is better)",
    "ece": "expected calibration error (lower is better)",
    "calibration_slope": "calibration slope (1 is ideal)",
    "calibration_intercept": "calibration intercept (0 is ideal)",
}


@dataclass(frozen=True)
class Stability:
    """The champion's and the challenger's lists for the newest date, side by side."""

    as_of: str
    champion: int
    challenger: int
    jaccard: float
    by_locality: tuple[tuple[str, int, int, float], ...]
    entering: int
    leaving: int
    entering_reasons: tuple[tuple[str, int], ...]
    leaving_reasons: tuple[tuple[str, int], ...]


def jaccard(a: set[Any], b: set[Any]) -> float:
    """Return ``|a & b| / |a | b|`` (1.0 for two empty sets)."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _words(feature: str) -> str:
    return FEATURE_BY_NAME[feature].description if feature in FEATURE_BY_NAME else feature


def _reason_counts(
    lst: pd.DataFrame, families: set[str], top: int = 5
) -> tuple[tuple[str, int], ...]:
    counts: Counter[str] = Counter()
    for fam, feats in zip(lst["family"], lst["reason_features"], strict=True):
        if fam in families:
            counts.update({_words(f) for f in feats})
    return tuple(counts.most_common(top))


def stability(as_of: str, champion: pd.DataFrame, challenger: pd.DataFrame) -> Stability:
    """Compare two lists (``family``, ``locality``, ``reason_features`` per listed family)."""
    a, b = set(champion["family"]), set(challenger["family"])
    rows = []
    for loc in sorted(set(champion["locality"]) | set(challenger["locality"])):
        fa = set(champion.loc[champion["locality"] == loc, "family"])
        fb = set(challenger.loc[challenger["locality"] == loc, "family"])
        rows.append((str(loc), len(fa), len(fb), jaccard(fa, fb)))
    return Stability(
        as_of=as_of, champion=len(a), challenger=len(b), jaccard=jaccard(a, b),
        by_locality=tuple(rows), entering=len(b - a), leaving=len(a - b),
        entering_reasons=_reason_counts(challenger, b - a),
        leaving_reasons=_reason_counts(champion, a - b),
    )  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One model version: its registered number, evaluation and gain importances."""

    version: int
    evaluation: Evaluation
    importance: Mapping[str, float]


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows."""

    target: str
    extract_date: str
    previous_extract_date: str
    champion: Side
    challenger: Side
    comparison: Comparison
    recommendation: Recommendation
    drift_markdown: str
    stability: Stability | None
    seconds: float
    #: the follow-up of earlier lists whose window has matured (None: not this target's)
    followups: str | None = None


def _headline(c: Comparison) -> str:
    rows = []
    for key in HEADLINE + RANKING:
        rows.append((METRIC_WORDS[key], *(fmt_ci(c.figures[m].get(key)) for m in MODELS),
                     fmt_ci(c.difference.get(key))))  # fmt: skip
    heads = ("Figure", "Challenger", "Champion", "Challenger minus champion (paired 95 % CI)")
    return md_table(heads, rows)


def _calibration(c: Comparison) -> str:
    rows = [(METRIC_WORDS[k], *(fmt_ci(c.figures[m].get(k)) for m in MODELS)) for k in CALIBRATION]
    return md_table(("Figure", "Challenger", "Champion"), rows)


def _fairness(c: Comparison) -> str:
    d = c.fairness_deltas()
    changed = d[d["challenger_outcome"] != d["champion_outcome"]]
    top = d.reindex(d["change"].abs().sort_values(ascending=False).index).head(8)
    shown = pd.concat([changed, top]).drop_duplicates(["dimension", "group", "criterion"])
    rows = [
        (dimension_label(str(r.dimension)), group_label(str(r.dimension), r.group), r.criterion,
         fmt(r.champion), r.champion_outcome,
         fmt(r.challenger), r.challenger_outcome, fmt(r.change))
        for r in shown.itertuples()
    ]  # fmt: skip
    verdicts = {m: a.verdict for m, a in c.audits.items()}
    head = (
        f"Fairness verdict on the window: challenger **{verdicts['challenger'].overall}** "
        f"({verdicts['challenger'].not_met} not met), champion "
        f"**{verdicts['champion'].overall}** ({verdicts['champion'].not_met} not met). "
        "Checks whose outcome changed, then the largest changes:"
    )
    heads = ("Dimension", "Group", "Check", "Champion", "Outcome", "Challenger", "Outcome",
             "Change")  # fmt: skip
    return head + "\n\n" + md_table(heads, rows)


def _rolling(champion: Evaluation, challenger: Evaluation) -> str:
    mine = {(q.period, q.model): q for q in challenger.per_quarter}
    rows: list[tuple[str, float | None, float | None, float | None, float | None]] = []
    for q in champion.per_quarter:
        if q.model != "lightgbm":
            continue
        other = mine.get((q.period, q.model))
        rows.append((q.period, q.precision_at_capacity, q.recall_at_capacity,
                     None if other is None else other.precision_at_capacity,
                     None if other is None else other.recall_at_capacity))  # fmt: skip
    for (period, model), q in mine.items():
        if model == "lightgbm" and period not in {r[0] for r in rows}:
            rows.append((period, None, None, q.precision_at_capacity, q.recall_at_capacity))
    heads = ("Quarter", "Champion procedure: precision", "recall", "Challenger procedure: "
             "precision", "recall")  # fmt: skip
    return md_table(heads, sorted(rows, key=lambda r: r[0]))


def card_diff(champion: Side, challenger: Side, top: int = 10) -> str:
    """Return what changed between the two cards: data, figures, verdicts, importances."""
    a, b = champion.evaluation, challenger.evaluation
    rows: list[tuple[Any, ...]] = [
        ("trees learnt from", f"{a.champion.train.start} to {a.champion.train.end}",
         f"{b.champion.train.start} to {b.champion.train.end}"),
        ("calibrated on", f"{a.champion.calibrate.start} to {a.champion.calibrate.end}",
         f"{b.champion.calibrate.start} to {b.champion.calibrate.end}"),
        ("test window (evaluation)", f"{a.split.test.start} to {a.split.test.end}",
         f"{b.split.test.start} to {b.split.test.end}"),
        ("features", len(a.features), len(b.features)),
        ("performance verdict", a.verdict.overall, b.verdict.overall),
    ]  # fmt: skip
    for key in HEADLINE + RANKING:
        mine, theirs = a.metrics["lightgbm"].get(key), b.metrics["lightgbm"].get(key)
        rows.append((f"{METRIC_WORDS[key]}, own test window", fmt_ci(mine), fmt_ci(theirs)))
    heads = ("", f"Champion v{champion.version}", f"Challenger v{challenger.version}")
    table = md_table(heads, rows)
    old, new = champion.importance, challenger.importance
    names = sorted(set(old) | set(new), key=lambda n: -max(old.get(n, 0.0), new.get(n, 0.0)))
    imp = [(n, old.get(n, 0.0), new.get(n, 0.0)) for n in names[:top]]
    dropped = ", ".join(sorted(set(a.features) - set(b.features))) or "none"
    added = ", ".join(sorted(set(b.features) - set(a.features))) or "none"
    note = f"\n\nFeatures dropped: {dropped}; added: {added}."
    return (table + "\n\nShare of the trees' gain, the ten largest:\n\n"
            + md_table(("Feature", "Champion", "Challenger"), imp) + note)  # fmt: skip


def _stability(s: Stability | None) -> str:
    if s is None:
        return "Not drawn: this target has no quarterly list."
    lines = [
        f"Lists for {s.as_of} at the configured capacity: the champion's holds {s.champion:,} "
        f"families, the challenger's {s.challenger:,}; {s.jaccard:.2f} of all listed families "
        f"are on both (Jaccard). {s.entering:,} families would join the list and "
        f"{s.leaving:,} would leave it.",
        "",
        md_table(("Locality", "Champion's list", "Challenger's list", "Jaccard"), s.by_locality),
        "",
        "Reasons most often given for the families who would join (challenger's reasons):",
        "",
        md_table(("Reason", "Families"), s.entering_reasons),
        "",
        "Reasons most often given for the families who would leave (champion's reasons):",
        "",
        md_table(("Reason", "Families"), s.leaving_reasons),
    ]
    return "\n".join(lines)


#: Fewer new decision points than this are too few to call drift major: PSI over ten bins
#: of a few hundred points is mostly sampling noise.
MIN_DRIFT_ROWS = 1_000


def drift_flags(report: DriftReport, sources: pd.DataFrame | None = None) -> list[str]:
    """Return the major drift in words: referral sources, features and the score.

    Features and the score are not flagged when the new data hold fewer than
    :data:`MIN_DRIFT_ROWS` decision points (referral sources have their own test).
    """
    out = []
    if sources is not None:
        for r in sources[sources["level"] == "major"].itertuples():
            out.append(
                f"referrals from {r.group}: {r.current_per_month:.1f} a month in the new "
                f"months against {r.reference_per_month:.1f} (x{r.ratio:.2f}, p = {r.p_value:.2g})"
            )
    if report.current_rows < MIN_DRIFT_ROWS:
        return out
    flagged, f = report.flagged, report.features
    words = dict(zip(f["feature"], f["description"], strict=True))
    index = dict(zip(f["feature"], f["psi"], strict=True))
    out += [f"{name} ({words[name]}): PSI {index[name]:.2f}" for name in flagged.features]
    if flagged.score == "major":
        out.append(f"the champion's score distribution: PSI {report.score.psi:.2f}")
    return out


def drift_markdown(report: DriftReport, sources: pd.DataFrame | None = None, top: int = 10) -> str:
    """Return the drift section: sources, score PSI, top features, localities, base rates."""
    t, score = report.thresholds, report.score
    features = report.features.head(top)
    rows = [(r.feature, r.description, r.psi, r.level, fmt(r.reference), fmt(r.current))
            for r in features.itertuples()]  # fmt: skip
    loc = [(r.locality, r.reference, r.current, r.reference_share, r.current_share, r.change_pct)
           for r in report.localities.itertuples()]  # fmt: skip
    rates = [(r.side, r.quarter, r.rows, r.positives, r.base_rate)
             for r in report.base_rates.itertuples()]  # fmt: skip
    flagged = drift_flags(report, sources)
    src = [] if sources is None else [
        (r.group, r.reference_per_month, r.current_per_month, r.ratio, r.p_value, r.level)
        for r in sources.itertuples()
    ]  # fmt: skip
    return "\n".join([
        "Referrals per month by source, the champion's last training year against the new "
        "months of this extract (a change is major when the ratio passes the configured "
        "limit and an exact test puts it beyond chance, p < 0.01):",
        "",
        md_table(("Source", "Then, a month", "Now, a month", "Ratio", "p", "Level"), src),
        "",
        f"Between the champion's training decision points of its last year "
        f"({report.reference_rows:,}) and the decision points it never saw "
        f"({report.current_rows:,}), eligible families only. Population "
        f"stability index (PSI): below {t.psi_moderate:g} stable, below {t.psi_major:g} "
        "moderate, above that major.",
        "",
        f"The champion's score: PSI {score.psi:.3f} ({score.level}); mean "
        f"{score.reference_mean:.4f} then, {score.current_mean:.4f} now.",
        "",
        "Major drift: " + ("; ".join(flagged) if flagged else "none") + "."
        + (f" (Too few new decision points, {report.current_rows:,}, to call any drift major: "
           f"at least {MIN_DRIFT_ROWS:,} are needed.)" if report.current_rows < MIN_DRIFT_ROWS
           else ""),
        "",
        f"The {top} features that moved most:",
        "",
        md_table(("Feature", "What it means", "PSI", "Level", "Then", "Now"), rows),
        "",
        "Decision points by locality:",
        "",
        md_table(("Locality", "Then", "Now", "Share then", "Share now", "Change in share (%)"),
                 loc),  # fmt: skip
        "",
        "Base rate by quarter (labelled points only):",
        "",
        md_table(("Side", "Quarter", "Points", "Positives", "Base rate"), rates),
    ])  # fmt: skip


def decision_text(decision: str, approver: str | None = None, when: str | None = None) -> str:
    """Return the Decision section's text (``pending`` until an approver acts)."""
    if decision == PENDING:
        return ("Pending. Nothing has been promoted: `stratify promote` needs a named "
                "approver and a reason, and records both.")  # fmt: skip
    return f"{decision} by {approver} on {when}."


def render(inp: ReportInput, decision: str = PENDING) -> str:
    """Return the report's Markdown."""
    c, r = inp.comparison, inp.recommendation
    w = c.window
    parts = [
        f"# Retraining report: stratify-{inp.target}, champion v{inp.champion.version} "
        f"against challenger v{inp.challenger.version}",
        "",
        f"New extract {inp.extract_date} (previous {inp.previous_extract_date}). "
        f"Built in {inp.seconds:.0f} s.",
        "",
        f"## Recommendation: {r.decision}",
        "",
        *(f"- {reason}" for reason in r.reasons),
        "",
        "The report recommends; it never promotes. A named approver decides.",
        "",
        "## Decision",
        "",
        decision_text(decision),
        "",
        "## Champion against challenger, on new data",
        "",
        f"Window: {w.start} to {w.end}, {w.rows:,} eligible decision points, {w.positives:,} "
        f"positives, {w.families:,} families. {w.why}",
        "",
        _headline(c),
        "",
        f"Listed families on the window: challenger {c.listed['challenger']:,}, champion "
        f"{c.listed['champion']:,}.",
        "",
        "### Calibration",
        "",
        _calibration(c),
        "",
        "### Rolling-origin estimates of both procedures",
        "",
        "Each procedure refitted before each quarter of its own test period (from each "
        "version's card): not paired, but the same kind of estimate for both.",
        "",
        _rolling(inp.champion.evaluation, inp.challenger.evaluation),
        "",
        "### Fairness checks on the window",
        "",
        _fairness(c),
        "",
        f"The challenger's own verdict against the performance bar: "
        f"**{inp.challenger.evaluation.verdict.overall}**.",
        "",
        "## Drift",
        "",
        inp.drift_markdown,
        "",
        "## List stability",
        "",
        _stability(inp.stability),
        "",
        *(
            ["## Follow-up of earlier outreach lists", "", inp.followups, ""]
            if inp.followups is not None
            else []
        ),
        "## What changed between the cards",
        "",
        card_diff(inp.champion, inp.challenger),
        "",
    ]
    return "\n".join(parts)


def write_report(out_dir: Path, markdown: str) -> dict[str, Path]:
    """Write the Markdown and the self-contained HTML report atomically; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / REPORT_MD, "html": out_dir / REPORT_HTML}
    html = to_html(markdown)
    write_files_atomic({
        paths["markdown"]: lambda p: p.write_text(markdown),
        paths["html"]: lambda p: p.write_text(html),
    })  # fmt: skip
    return paths


def importance_shares(names: Sequence[str], gains: Sequence[float] | Any) -> dict[str, float]:
    """Return each feature's share of the total gain."""
    total = float(sum(gains)) or 1.0
    return {str(n): float(g) / total for n, g in zip(names, gains, strict=True)}


def record_decision(out_dir: Path, decision: str, approver: str) -> dict[str, Path]:
    """Write the decision taken into the report's "Decision" section (both files)."""
    path = out_dir / REPORT_MD
    text = path.read_text()
    pending = decision_text(PENDING)
    when = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    return write_report(out_dir, text.replace(pending, decision_text(decision, approver, when)))
