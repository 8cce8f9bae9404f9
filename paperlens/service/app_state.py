"""What the routes take from the application: the one engine its lifespan built."""

from __future__ import annotations

from fastapi import Request

from paperlens.engine import Engine


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine
