"""Domain vocabulary shared by every layer: wire schemas, errors, ids, clocks."""
