"""The collector's baseline: a bare FastAPI endpoint taking the same JSON body, answering 202."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/api/v1/events")
async def events(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"accepted": len(body["events"]), "refused": []}, status_code=202)
