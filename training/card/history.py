"""What the card's first page says about approval and the version in use, from the registry.

:func:`card_history` reads a registered version's promotion tags (who approved it, when
and why; recorded by ``stratify promote``) and the evaluation of the version it is
compared with: the previous champion it replaced if it was promoted, or else the
champion in use now. Nothing here changes the registry.
"""

from __future__ import annotations

from stratify.core.targets import CHAMPION, Target
from stratify.features.config import Config
from stratify.training import tracking
from stratify.training.card.context import History
from stratify.training.card.summary import Approval
from stratify.training.evaluation import Evaluation


def _evaluation(cfg: Config, target: Target, version: int) -> Evaluation:
    run_id = tracking.version_info(cfg, target, version)["run_id"]
    return Evaluation.from_dict(
        tracking.read_json_artifact(cfg, run_id, "evaluation/evaluation.json")
    )


def approval_of(tags: dict[str, str]) -> Approval | None:
    """Return the approval recorded in a version's promotion tags, or None."""
    if not tags.get("approved_by"):
        return None
    return Approval(
        tags["approved_by"], tags.get("approved_at", ""), tags.get("approval_reason", "")
    )


def card_history(cfg: Config, target: Target, version: int) -> History:
    """Return the approval of ``version`` (if any) and the version it is compared with."""
    tags = tracking.version_info(cfg, target, version)["tags"]
    approval = approval_of(tags)
    before = tags.get("previous_champion")
    other = int(before) if before and before.isdigit() else None
    words = f"version {other}, the champion it replaced"
    if before is None:  # not promoted: compared with the champion in use
        other = tracking.alias_version(cfg, target, CHAMPION)
        words = f"version {other}, the version in use"
    if other is None or other == version:
        return History(approval)
    return History(approval, _evaluation(cfg, target, other), words)
