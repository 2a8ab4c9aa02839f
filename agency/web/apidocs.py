"""Browsable API docs: Swagger UI served from the swagger-ui-bundle package (no CDN)."""

from __future__ import annotations

from flask import Blueprint, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("apidocs", __name__, url_prefix="/api/v1/docs")


@bp.get("/")
def index():  # noqa: ANN201
    return render_template("apidocs.html")


@bp.get("/assets/<path:filename>")
def asset(filename: str):  # noqa: ANN201
    return send_from_directory(str(swagger_ui_path), filename)
