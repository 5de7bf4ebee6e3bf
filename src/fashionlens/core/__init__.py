"""Pure-python core: taxonomy, colour dictionary, result types, settings (stdlib + numpy only)."""
