"""Fast JSON (orjson) for the service's responses and the upstream's answers: the largest single
cost of a 100-record page after the network (bench/RESULTS.md). Output stays key-ordered.
A response's body is orjson's bytes as they are (through `str` and back was 0.35 ms of a 100-record page)."""
from __future__ import annotations

import orjson
from flask.json.provider import DefaultJSONProvider


def loads(data):
    return orjson.loads(data)


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False

    def response(self, *args, **kwargs):
        try:
            body = orjson.dumps(self._prepare_response_obj(args, kwargs), option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # as `dumps`: Flask's encoder decides
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)

    def dumps(self, obj, **kwargs) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:  # a type orjson does not know: Flask's encoder decides
            return super().dumps(obj, **kwargs)

    def loads(self, s, **kwargs):
        return orjson.loads(s)
