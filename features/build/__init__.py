"""stratify.features.build: the point-in-time family-context table (Ibis over DuckDB).

:func:`build` forms a target's decision points and labels and computes every catalogue
feature from facts dated strictly before each decision point (:mod:`.pipeline`, with the
child, household and timeline pieces in :mod:`.child`, :mod:`.household`,
:mod:`.timeline` and :mod:`.facts`); :func:`write_build` writes the feature table, the
audit table and the metadata atomically (:mod:`.output`). :mod:`.reference` is a slow,
obvious reimplementation the tests compare the build with. :mod:`.spark` runs the same
definitions on PySpark (``features.backend: pyspark``; it imports PySpark, the optional
extra ``stratify[spark]``, only when a Spark build runs).
"""

from stratify.features.build.output import write_build
from stratify.features.build.pipeline import FeatureBuild, build

__all__ = ["FeatureBuild", "build", "write_build"]
