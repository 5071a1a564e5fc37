"""stratify.features.warehouse: from an extract to the canonical DuckDB warehouse.

Validate every rule an extract must meet (:mod:`.validate`), pseudonymise identifiers
with a keyed HMAC (:mod:`.pseudonymise`), load atomically (:mod:`.ingest`), open the
warehouse with schema checks (:mod:`.store`), and sweep temporary outputs of killed
writers (:mod:`.stale`).
"""

from stratify.features.warehouse.ingest import ExtractInvalid, IngestError, load_extract
from stratify.features.warehouse.pseudonymise import PseudonymKeyError
from stratify.features.warehouse.store import WarehouseError, connect, warehouse_hash
from stratify.features.warehouse.validate import Violation, validate_extract

__all__ = [
    "ExtractInvalid",
    "IngestError",
    "PseudonymKeyError",
    "Violation",
    "WarehouseError",
    "connect",
    "load_extract",
    "validate_extract",
    "warehouse_hash",
]
