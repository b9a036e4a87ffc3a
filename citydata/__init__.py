"""citydata: the shared domain of the city data platform (settings, kinds, readings, storage)."""
