"""The warehouse as a Parquet dataset: what Spark (and DuckDB) read for a scaled-out build.

:func:`export_dataset` writes every warehouse table as a folder of Parquet part files
(``<table>/part-00000.parquet``, ...; at most ``rows_per_file`` rows each, so Spark
reads them in parallel) and the warehouse's meta table as ``meta.json``, all under a
temporary folder moved into place once complete: a reader sees the previous dataset or
the new one. :func:`check_dataset` is how readers open it: it refuses a dataset whose
tables or column types differ from the schema, naming the table and column.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from stratify.core.files import remove_stale, replace_paths, temporary_sibling
from stratify.features.schema import SCHEMA_VERSION, TABLES, Table
from stratify.features.warehouse import store

META_FILE = "meta.json"
#: Arrow types of the warehouse's column types, as the export writes them.
ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
}
ERR_NO_DATASET = (
    "no warehouse dataset at {path}: export the warehouse first (stratify export --out {path})"
)
ERR_DATASET_VERSION = (
    "warehouse dataset {path} has schema version {found}, this version of stratify needs "
    "{expected}: export the warehouse again"
)
ERR_DATASET_TABLE = "warehouse dataset {path} has no table {table}: export the warehouse again"
ERR_DATASET_COLUMN = (
    "warehouse dataset {path}: column {table}.{column} is {found}, expected {expected}"
)


def _arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([(c.name, ARROW_TYPES[c.type]) for c in table.columns])


def _export_table(
    con: duckdb.DuckDBPyConnection, table: Table, folder: Path, rows_per_file: int
) -> int:
    folder.mkdir()
    schema = _arrow_schema(table)
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    reader = con.sql(f'SELECT {columns} FROM "{table.name}"').to_arrow_reader(rows_per_file)
    parts, rows = 0, 0
    for batch in reader:
        part = folder / f"part-{parts:05d}.parquet"
        pq.write_table(pa.Table.from_batches([batch]).cast(schema), part, compression="zstd")
        parts, rows = parts + 1, rows + batch.num_rows
    if parts == 0:  # an empty table still has one file, which carries the schema
        pq.write_table(schema.empty_table(), folder / "part-00000.parquet", compression="zstd")
    return rows


def export_dataset(
    warehouse: Path | str, out: Path | str, *, rows_per_file: int = 2_000_000
) -> dict[str, int]:
    """Export the warehouse at ``warehouse`` as a Parquet dataset in the folder ``out``.

    Parameters
    ----------
    warehouse : Path or str
        The warehouse file (checked against the schema).
    out : Path or str
        The dataset folder, replaced as a whole once the new one is complete.
    rows_per_file : int
        The most rows in one part file.

    Returns
    -------
    dict[str, int]
        Table -> rows exported.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent, out.name)
    meta = store.read_meta(warehouse)
    tmp = temporary_sibling(out)
    con = store.connect(warehouse, read_only=True)
    try:
        tmp.mkdir()
        rows = {t.name: _export_table(con, t, tmp / t.name, rows_per_file) for t in TABLES}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        replace_paths({out: tmp})
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def table_files(dataset: Path, table: str) -> str:
    """Return the glob of ``table``'s part files in ``dataset``."""
    return str(dataset / table / "*.parquet")


def check_dataset(dataset: Path | str) -> dict[str, str]:
    """Return the dataset's meta after checking its tables and column types.

    Raises
    ------
    stratify.features.warehouse.store.WarehouseError
        If the dataset is missing, of another schema version, or a table or column is
        missing or of another type (named).
    """
    path = Path(dataset)
    if not (path / META_FILE).is_file():
        raise store.WarehouseError(ERR_NO_DATASET.format(path=path))
    meta: dict[str, str] = json.loads((path / META_FILE).read_text())
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        found, expected = meta.get("schema_version"), SCHEMA_VERSION
        message = ERR_DATASET_VERSION.format(path=path, found=found, expected=expected)
        raise store.WarehouseError(message)
    for t in TABLES:
        parts = sorted((path / t.name).glob("*.parquet"))
        if not parts:
            raise store.WarehouseError(ERR_DATASET_TABLE.format(path=path, table=t.name))
        schema = pq.read_schema(parts[0])
        for c in t.columns:
            found = schema.field(c.name).type if c.name in schema.names else "missing"
            if found != ARROW_TYPES[c.type]:
                raise store.WarehouseError(
                    ERR_DATASET_COLUMN.format(
                        path=path, table=t.name, column=c.name, found=found, expected=c.type
                    )
                )
    return meta
