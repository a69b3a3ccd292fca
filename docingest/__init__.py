"""docingest: document ingestion into vector stores.

This package holds the pure logic (parsing, chunking, ids, embedding and vector-store clients)
with no Dagster import; `resources`, `assets` and `pipelines` wire it into Dagster.
"""

__version__ = "0.1.0"
