"""One dynamic partition per document: the partitions definition every asset and job shares."""

import dagster as dg

DOCUMENTS = "documents"
documents_partitions = dg.DynamicPartitionsDefinition(name=DOCUMENTS)
