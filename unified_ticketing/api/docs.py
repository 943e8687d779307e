"""The contract: `/openapi.yaml` and an interactive page at `/docs`."""

from flask import Blueprint, Response

from ..resources import shipped

bp = Blueprint("docs", __name__)
SPEC = shipped("openapi.yaml")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>unified-ticketing API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.yaml", dom_id: "#ui"});</script>
<noscript>This page needs JavaScript; the contract is at <a href="/openapi.yaml">/openapi.yaml</a>.</noscript>
</body></html>"""


@bp.get("/openapi.yaml")
def spec():
    return Response(SPEC.read_text(), mimetype="application/yaml")


@bp.get("/docs")
def page():
    return Response(PAGE, mimetype="text/html")
