"""stratify.serving.api: the HTTP service around the scorer.

:mod:`.service` is the ``@bentoml.service`` class (``POST /score``, ``GET /model``,
``GET /model/card``, ``GET /docs.json``), which only wires routes to :mod:`.endpoints`;
requests are checked against the catalogue-generated models in :mod:`.schema`; the
OpenAPI document is declared in :mod:`.document` with the generic :mod:`.contract`;
:mod:`.auth` holds bearer tokens with roles and expiry, :mod:`.limits` the per-token
rate limit, :mod:`.guard` enforces them, and :mod:`.audit_log` appends who asked about
which pseudonymous id and when. Import :mod:`.service` explicitly: it needs BentoML,
the rest of this package does not.
"""

__all__: list[str] = []
