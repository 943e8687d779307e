"""Everything the service keeps in Redis; the only code that builds Redis keys."""
