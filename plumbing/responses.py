"""The JSON response every service answers with."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class EnvelopeResponse(JSONResponse):
    """A JSON response rendered with orjson (fast, and handles datetimes and UUIDs)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
