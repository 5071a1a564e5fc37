"""stratify.serving: the BentoML scoring service and batch outreach lists.

Reads models and the feature catalogue, never training code paths. Filled in by the
service issue; nothing here yet.
"""
