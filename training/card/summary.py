"""The card's first page: what the score is for, how good the list is, whom it serves less well.

:func:`summary` reads the evaluation and the (labelled) audit and returns a
:class:`Summary` whose figures are the evaluation's own: the families a list offers help
each quarter, how many of them went on to the outcome (precision at capacity times the
families listed, with the same 95 % interval scaled alike), the same for the current way
of choosing (the prior-referral rule), the two or three largest disparities with their
intervals, the working group's bar and the criteria that fail, the approval and what
changed since the previous version. :func:`first_page` writes it as Markdown.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from dataclasses import dataclass

from stratify.core.text import fmt, fmt_ci, is_suppressed
from stratify.features.labels import SEP, dimension_label, group_label
from stratify.training.audit.checks import Check
from stratify.training.audit.report import AuditResult
from stratify.training.evaluation import Evaluation, Interval

#: The checks the first page reads disparities from, and how each is said in words.
DISPARITY_WORDS = {
    "recall at capacity ratio": (
        "{dimension}: of the children who went on to the outcome, those in \u201c{group}\u201d "
        "had their family on the list {ratio} times as often as those in \u201c{reference}\u201d"
    ),
    "selection rate ratio": (
        "{dimension}: children in \u201c{group}\u201d were on the list {ratio} times as "
        "often as those in \u201c{reference}\u201d"
    ),
}
BASELINE = "the current way of choosing (the prior-referral rule: most referrals first)"
NOT_APPROVED = (
    "Not yet approved. This card is written when the version is trained, before the "
    "working group decides; approval is recorded with `stratify promote --approved-by "
    "NAME --reason TEXT` in the model registry, and the sign-off at the end of this card "
    "is for the working group's signature."
)


@dataclass(frozen=True)
class Approval:
    """Who approved a version, when and why (the registry's promotion tags)."""

    approved_by: str
    approved_at: str
    reason: str


@dataclass(frozen=True)
class Disparity:
    """One of the largest disparities: a group's ratio to its reference, with its CI."""

    dimension: str
    group: str
    reference: str
    criterion: str
    ratio: Interval
    outcome: str

    def words(self) -> str:
        """Return the disparity as one sentence (95 % interval in brackets)."""
        text = DISPARITY_WORDS[self.criterion].format(
            dimension=self.dimension, group=self.group, reference=self.reference,
            ratio=fmt(self.ratio.value, 2),
        )  # fmt: skip
        low, high = fmt(self.ratio.low, 2), fmt(self.ratio.high, 2)
        bar = "within the bar" if self.outcome == "met" else "outside the bar"
        return f"{text} (95 % interval {low} to {high}; {bar})."


@dataclass(frozen=True)
class Summary:
    """The first page's figures, every one taken from the evaluation or the audit."""

    listed_per_quarter: float
    #: Listed families per quarter who went on to the outcome (precision x listed).
    ours: Interval | None
    baseline: Interval | None
    recall: Interval | None
    baseline_recall: Interval | None
    disparities: tuple[Disparity, ...]
    performance: str
    failing_criteria: tuple[str, ...]
    fairness: str
    failing_checks: tuple[str, ...]
    approval: Approval | None
    changes: tuple[str, ...]


def _scaled(ci: Interval | None, by: float) -> Interval | None:
    if ci is None or not math.isfinite(ci.value):
        return None
    return Interval(ci.value * by, ci.low * by, ci.high * by)


def _ratio(check: Check) -> Interval | None:
    values = (check.value, check.low, check.high)
    if any(is_suppressed(v) or v is None for v in values):
        return None
    value, low, high = (float(v) for v in values)
    if not (math.isfinite(value) and value > 0):
        return None
    return Interval(value, low, high)


def largest_disparities(audit: AuditResult, k: int = 3) -> tuple[Disparity, ...]:
    """Return the ``k`` largest disparities of single dimensions, one per dimension, in words.

    A disparity's size is how far its ratio is from 1 on a log scale (0.5 and 2 are as
    far); only assessable recall and selection-rate ratios of whole dimensions count. A
    ratio above 1 is turned round (the reference group is the one served less well), so
    each sentence names the group served less well first.
    """
    found: list[tuple[float, Disparity]] = []
    for c in audit.checks:
        ratio = _ratio(c)
        if c.criterion not in DISPARITY_WORDS or SEP in c.dimension or ratio is None:
            continue
        group, reference = group_label(c.dimension, c.group), group_label(c.dimension, c.reference)
        if ratio.value > 1:
            group, reference = reference, group
            ratio = Interval(
                1 / ratio.value, 1 / ratio.high, 1 / ratio.low if ratio.low > 0 else math.inf
            )
        size = abs(math.log(ratio.value))
        dim = dimension_label(c.dimension)
        found.append((size, Disparity(dim, group, reference, c.criterion, ratio, c.outcome)))
    out: list[Disparity] = []
    seen: set[str] = set()
    for _, d in sorted(found, key=lambda t: -t[0]):
        if d.dimension not in seen:  # one per dimension: the widest view in three lines
            seen.add(d.dimension)
            out.append(d)
    return tuple(out[:k])


def failing_checks(audit: AuditResult, most: int = 6) -> tuple[str, ...]:
    """Return the fairness checks not met, by criterion, naming the groups in words.

    Groups of whole dimensions are named (at most ``most``); groups of intersections
    are counted.
    """
    named: dict[str, list[str]] = defaultdict(list)
    crossed: dict[str, int] = defaultdict(int)
    for c in audit.checks:
        if c.outcome != "not met":
            continue
        if SEP in c.dimension:
            crossed[c.criterion] += 1
        else:
            named[c.criterion].append(group_label(c.dimension, c.group))
    out = []
    for crit in dict.fromkeys([*named, *crossed]):
        groups = list(dict.fromkeys(named[crit]))
        words = groups[:most] + ([f"{len(groups) - most} more"] if len(groups) > most else [])
        if crossed[crit]:
            words.append(f"{crossed[crit]} groups of intersections")
        out.append(f"{crit}: {'; '.join(words)}")
    return tuple(out)


def changes(evaluation: Evaluation, previous: Evaluation | None, version: str) -> tuple[str, ...]:
    """Return what changed since the previous version (its figures against this one's)."""
    if previous is None:
        return ("No earlier version is in use: this is the first version of this model.",)
    out = [f"Against {version}:"]
    for key, words in (("precision_at_capacity", "precision at capacity"),
                       ("recall_at_capacity", "recall at capacity")):  # fmt: skip
        old, new = previous.metrics["lightgbm"].get(key), evaluation.metrics["lightgbm"].get(key)
        out.append(f"{words} {fmt_ci(old)} then, {fmt_ci(new)} now")
    out.append(f"test window {previous.split.test.start} to {previous.split.test.end} then, "
               f"{evaluation.split.test.start} to {evaluation.split.test.end} now")  # fmt: skip
    added = sorted(set(evaluation.features) - set(previous.features))
    dropped = sorted(set(previous.features) - set(evaluation.features))
    out.append(
        f"inputs added: {', '.join(added) or 'none'}; removed: {', '.join(dropped) or 'none'}"
    )
    return tuple(out)


def summary(
    evaluation: Evaluation,
    audit: AuditResult,
    *,
    approval: Approval | None = None,
    previous: Evaluation | None = None,
    previous_version: str = "the previous version",
) -> Summary:
    """Return the first page's figures (``audit`` with codes: labels are made here)."""
    m = evaluation.metrics
    ours, rule = m["lightgbm"], m.get("rule", {})
    quarters = len({row.quarter for row in evaluation.backtest}) or 1
    listed = evaluation.operating_point.listed / quarters
    verdict = evaluation.verdict
    return Summary(
        listed_per_quarter=listed,
        ours=_scaled(ours.get("precision_at_capacity"), listed),
        baseline=_scaled(rule.get("precision_at_capacity"), listed),
        recall=ours.get("recall_at_capacity"),
        baseline_recall=rule.get("recall_at_capacity"),
        disparities=largest_disparities(audit),
        performance=str(verdict.overall),
        failing_criteria=tuple(c.name for c in verdict.criteria if c.outcome != "met"),
        fairness=str(audit.verdict.overall),
        failing_checks=failing_checks(audit),
        approval=approval,
        changes=changes(evaluation, previous, previous_version),
    )


def _about(ci: Interval | None) -> str:
    if ci is None:
        return "not available"
    return f"about {ci.value:,.0f} ({ci.low:,.0f} to {ci.high:,.0f})"


def _share(ci: Interval | None) -> str:
    if ci is None or not math.isfinite(ci.value):
        return "not available"
    return f"{ci.value:.0%} ({ci.low:.0%} to {ci.high:.0%})"


def how_good(s: Summary, horizon: int) -> str:
    """Return the list's figures in one paragraph."""
    return (
        f"Of the {s.listed_per_quarter:,.0f} families the list offers help each quarter, "
        f"{_about(s.ours)} went on to the outcome within {horizon} months. Choosing as many "
        f"by {BASELINE}: {_about(s.baseline)}. Of all eligible families who went on to the "
        f"outcome, the list reached {_share(s.recall)}; the current way, "
        f"{_share(s.baseline_recall)}."
    )


def bar_words(s: Summary) -> list[str]:
    """Return the working group's bar as bullet points: the outcomes and what fails."""
    perf = f"**Performance bar: {s.performance}.**"
    if s.failing_criteria:
        perf += " Not met: " + "; ".join(s.failing_criteria) + "."
    fair = f"**Fairness bar: {s.fairness}.**"
    if s.failing_checks:
        fair += " Checks not met, by criterion:"
    return [perf, fair]


def approval_words(approval: Approval | None) -> str:
    """Return who approved the version and when, or that nobody has yet.

    The approver's name and reason are typed by a person: markup in them is escaped, as
    the card's Markdown allows the template's own HTML.
    """
    if approval is None:
        return NOT_APPROVED
    who, why = (html.escape(t, quote=False) for t in (approval.approved_by, approval.reason))
    return f"Approved by {who} on {approval.approved_at[:10]}: {why}"
