"""Format parsers: bytes in, typed records out. No database, no network."""
