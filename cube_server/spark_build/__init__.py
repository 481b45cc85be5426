"""Building the cuboid store with Apache Spark: the same plan, layout and manifest as the DuckDB build.

Only the build and refresh commands use it; the server never imports it, and pyspark is imported lazily
(:mod:`cube_server.spark_build.session`), so a server installed without the ``spark`` extra runs as before.
"""
