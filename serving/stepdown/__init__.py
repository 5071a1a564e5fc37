"""The step-down list: a month's closing cases most likely to come back (issue 18).

``stratify step-down --month YYYY-MM`` scores the month's RC7-RC9 closures with the
re-referral champion, keeps the families at or above its operating threshold, and writes
a workbook and a web page in the outreach list's style, with an audit sample beside it.

Public API: :func:`stratify.serving.stepdown.listing.build_stepdown`,
:func:`stratify.serving.stepdown.sample.audit_sample`,
:func:`stratify.serving.stepdown.run.run_stepdown`.
"""
