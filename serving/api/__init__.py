"""stratify.serving.api: the HTTP service around the scorer.

:mod:`.service` is the ``@bentoml.service`` class (``POST /score``, ``GET /model``,
``GET /model/card``), which only wires routes to :mod:`.endpoints`; requests are
checked against the catalogue-generated models in :mod:`.schema`; :mod:`.auth` holds
bearer tokens with roles, :mod:`.guard` enforces them and the request limits, and
:mod:`.audit_log` appends who asked about which pseudonymous id and when. Import
:mod:`.service` explicitly: it needs BentoML, the rest of this package does not.
"""

__all__: list[str] = []
