"""Example responses of the read endpoints, shown in the OpenAPI document. They were captured from a real
run over the query tests' dataset (lists cut to three items); a unit test validates each against its
endpoint's response model, so they cannot drift from the shapes."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def example(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{name}.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def example_response(name: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: its 200 example, and the error envelope for bad parameters."""
    return {
        200: {"content": {"application/json": {"example": example(name)}}},
        400: {
            "description": "a malformed or inconsistent parameter (VALIDATION_ERROR, details.parameter)",
            "content": {
                "application/json": {
                    "example": {
                        "success": False,
                        "error": {
                            "code": "VALIDATION_ERROR",
                            "message": "unknown time_period 'yesterday'; one of: last_24_hours, ...",
                            "details": {"parameter": "time_period"},
                        },
                    }
                }
            },
        },
    }
