"""stratify.features.warehouse: from an extract to the canonical DuckDB warehouse.

Validate every rule an extract must meet (:mod:`.validate`), pseudonymise identifiers
with a keyed HMAC (:mod:`.pseudonymise`), load atomically (:mod:`.ingest`), open the
warehouse with schema checks (:mod:`.store`), and sweep temporary outputs of killed
writers (:mod:`.stale`). A council's own records load the same way: CIN census XML
returns (:mod:`.cin_load`) and Standard Safeguarding Dataset tables (:mod:`.ssd`), with
a validation report beside them (:mod:`.report`).
"""

from stratify.features.warehouse.cin_load import CinReturnsInvalid, load_cin_returns
from stratify.features.warehouse.ingest import ExtractInvalid, IngestError, load_extract
from stratify.features.warehouse.pseudonymise import PseudonymKeyError
from stratify.features.warehouse.ssd import SsdInvalid, load_ssd
from stratify.features.warehouse.store import WarehouseError, connect, warehouse_hash
from stratify.features.warehouse.validate import Violation, validate_extract

__all__ = [
    "CinReturnsInvalid",
    "ExtractInvalid",
    "IngestError",
    "PseudonymKeyError",
    "SsdInvalid",
    "Violation",
    "WarehouseError",
    "connect",
    "load_cin_returns",
    "load_extract",
    "load_ssd",
    "validate_extract",
    "warehouse_hash",
]
