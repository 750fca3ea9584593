"""The baseline: a bare FastAPI endpoint answering a fixed JSON body from memory."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Response

app = FastAPI()
_BODY = Path(os.environ.get("KINOTEKA_BENCH_BODY", "/dev/null")).read_bytes()


@app.get("/api/v1/films/{film_id}")
async def film(film_id: str) -> Response:
    return Response(content=_BODY, media_type="application/json")
