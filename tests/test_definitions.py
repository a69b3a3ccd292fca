"""The Definitions load, with the asset keys, partitions and jobs other tools rely on."""

import dagster as dg

from pipelines.definitions import defs


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {"source_documents", "parsed_pages", "chunks", "vector_store_entries"}
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition)
        assert partitions.name == "documents"
    for job in ("ingest_job", "rechunk_job", "delete_documents_job"):
        assert defs.resolve_job_def(job) is not None
    assert defs.resolve_sensor_def("upload_folder_sensor") is not None
    assert defs.resolve_schedule_def("reconcile_schedule") is not None
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "every_page_parsed_or_explained",
        "no_chunk_over_its_limit",
        "point_count_matches_chunks",
    } <= checks
