"""The contract: `/openapi.yaml` and an interactive page at `/docs`.

The page is Swagger UI from the `flask-swagger-ui` package (its `dist/` folder is swagger-ui-dist),
served from our own routes under a Content-Security-Policy that names no other origin: the docs
work on a machine without internet, and nothing about the reader leaves it.
"""
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

from ..errors import not_found
from ..resources import shipped

bp = Blueprint("docs", __name__)
SPEC = shipped("openapi.yaml")
ASSETS = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
SERVED = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}
# Swagger UI sets style attributes and renders its icons as data: images; scripts come from us alone
SELF_ONLY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
             "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>unified-ticketing API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui" data-spec="/openapi.yaml"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
<noscript>This page needs JavaScript; the contract is at <a href="/openapi.yaml">/openapi.yaml</a>.</noscript>
</body></html>"""


@bp.get("/openapi.yaml")
def spec():
    return Response(SPEC.read_text(), mimetype="application/yaml")


@bp.get("/docs")
def page():
    return Response(PAGE, mimetype="text/html", headers={"Content-Security-Policy": SELF_ONLY})


@bp.get("/docs/assets/<name>")
def asset(name: str):
    if name not in SERVED:
        raise not_found(f"No docs asset '{name}'; the page at /docs names the ones it uses")
    return send_from_directory(ASSETS, name, max_age=24 * 3600)
