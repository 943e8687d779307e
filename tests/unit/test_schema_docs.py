"""docs/mapping-format.md and the README's filter table are generated; the committed ones must match
(`python -m unified_ticketing.engine.schema_docs` rewrites both)."""
from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine import mapping_schema, schema_docs
from unified_ticketing.engine.loader import load_all

REGENERATE = "run python -m unified_ticketing.engine.schema_docs and commit the result"


def test_the_mapping_format_doc_is_generated_from_the_schema():
    assert schema_docs.DOC.read_text() == schema_docs.mapping_format(), REGENERATE


def test_the_readme_filter_table_is_generated_from_the_declarations():
    readme = schema_docs.README.read_text()
    table = schema_docs.filter_table(load_all(DEFAULT_MAPPINGS))
    assert schema_docs.readme_with_table(readme, table) == readme, REGENERATE


def test_the_doc_lists_every_context_and_every_variable():
    doc = schema_docs.mapping_format()
    for name, context in mapping_schema.root()["x-contexts"].items():
        assert f"| `{name}` |" in doc
        for variable in context["variables"]:
            assert f"`${variable}`" in doc
    assert "| `items` | JSONata; variables: `$filters`, `$limit`, `$version`, `$base_url`, `$account` or `{" in doc
