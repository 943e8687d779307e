"""Each expression may name only the variables its context provides (the schema's `x-contexts`):
a misspelt one fails start-up naming file, line, key and the variables allowed. JSONata's own
functions and the names an expression binds itself are not variables."""
import re

import pytest

from tests.unit.test_schema import broken
from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.expressions import MappingError, compile_expression


def test_a_misspelt_variable_fails_start_up_naming_file_line_key_and_the_allowed_variables(tmp_path):
    text = (DEFAULT_MAPPINGS / "livechat" / "tickets.list.yaml").read_text()
    line = text.splitlines().index("  body: |") + 1
    message = broken(tmp_path, "livechat/tickets.list.yaml", '"limit": $limit,', '"limit": $limt,')
    assert message == (f"mappings/livechat/tickets.list.yaml:{line} (request.body): unknown variable $limt; "
                       "variables here: $account, $base_url, $filters, $limit, $version")


@pytest.mark.parametrize(("file", "old", "new", "match"), [
    ("livechat/tickets.get.yaml", '{"chat_id": $id}', '{"chat_id": $id, "limit": $limit}',
     r"tickets\.get\.yaml:\d+ \(request\.body\): unknown variable \$limit; variables here: \$account, \$base_url, "
     r"\$id, \$version$"),
    ("rocketchat/comments.list.yaml", "{$filters.ticket_id}", "{$filtres.ticket_id}",
     r"comments\.list\.yaml:\d+ \(request\.path\): unknown variable \$filtres;"),
    ("rocketchat/records/ticket.jsonata", "$base_url &", "$base_uri &",
     r"rocketchat/records/ticket\.jsonata: unknown variable \$base_uri; variables here: \$base_url, \$version$"),
    ("livechat/tickets.list.yaml", 'status: {after_mapping: "status = $value"}',
     'status: {after_mapping: "status = $val"}',
     r"tickets\.list\.yaml:\d+ \(filters\.status\.after_mapping\): unknown variable \$val; variables here: \$value$"),
    ("livechat/tickets.list.yaml", "  dedupe_by: id", "  dedupe_by: $id",
     r"tickets\.list\.yaml:\d+ \(response\.dedupe_by\): unknown variable \$id; variables here: none"),
    ("livechat/comments.create.yaml", '$input.ticket_id}', '$inptu.ticket_id}',
     r"comments\.create\.yaml:\d+ \(steps\[0\] chat\.request\.body\): unknown variable \$inptu; variables here: "
     r"\$account, \$base_url, \$error, \$id, \$idempotency_key, \$input, \$item, \$steps, \$version, \$write_id$"),
    ("rocketchat/integration.yaml", "$status = 401 and", "$code = 401 and",
     r"integration\.yaml:\d+ \(errors\.type\): unknown variable \$code; variables here: \$status$"),
    ("livechat/integration.yaml", "& ':' & token)", "& ':' & $token)",
     r"integration\.yaml:\d+ \(auth\.personal_access_token\.headers\.Authorization\): unknown variable \$token"),
    ("rocketchat/events.yaml", "$headers.", "$header.",
     r"events\.yaml:\d+ \(delivery\.secret\): unknown variable \$header; variables here: \$headers$"),
    ("livechat/events.yaml", '"owner_client_id": $client_id, "description"', '"owner_client_id": $clientid, "d"',
     r"events\.yaml:\d+ \(registration\.register\[0\] hooks\.request\.body\): unknown variable \$clientid; "
     r"variables here: \$actions, \$client_id"),
])
def test_every_context_checks_its_variables(tmp_path, file, old, new, match):
    message = broken(tmp_path, file, old, new)
    assert re.search(match, message), message


def test_an_upstream_filter_the_request_never_reads_fails_at_load(tmp_path):
    message = broken(tmp_path, "livechat/tickets.list.yaml", '        $filters.q ? {"query": $filters.q},\n', "")
    assert re.search(r"tickets\.list\.yaml:\d+ \(filters\.q\): q is applied upstream but the request never reads "
                     r"\$filters\.q", message), message


@pytest.mark.parametrize(("source", "variables", "unknown"), [
    ("$string(a) & $lookup(b, 'k') & $uppercase($substringBefore(c, ':'))", {}, None),  # JSONata's functions
    ("($x := 1; $map([1, 2], function($v) { $v + $x + $limit }))", {"limit"}, None),  # bound names
    ("x.($t := id; events.{'thread': $t, 'root': $$.id})", {}, None),  # $t bound in a block, $$ the root
    ("$each($fields, function($v, $k) { {$k: $v} })", {"fields"}, None),
    ("$limt", {"limit"}, "$limt"),
    ("$nosuchfunction(1)", {}, "$nosuchfunction"),  # an unknown function is a misspelt name too
    ("$filters.q and $filtres.q", {"filters"}, "$filtres"),  # ($filter is a JSONata function)
])
def test_only_free_variables_that_are_not_jsonata_builtins_count(source, variables, unknown):
    if unknown is None:
        compile_expression(source, "test", variables)
    else:
        with pytest.raises(MappingError, match=rf"test: unknown variable \{unknown};"):
            compile_expression(source, "test", variables)


def test_an_expression_without_a_context_is_not_checked():
    assert compile_expression("$anything", "test").names == frozenset({"anything"})
    assert compile_expression("$eval('1')", "test", {}).names is None  # could read any: handed every binding
