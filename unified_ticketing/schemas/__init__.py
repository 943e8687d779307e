"""marshmallow schemas: the unified models (output) and request bodies (input)."""
