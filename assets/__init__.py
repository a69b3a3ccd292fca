"""The asset graph: source_documents -> parsed_pages -> chunks -> vector_store_entries."""
