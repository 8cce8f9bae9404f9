"""The URLs this API hands out for things it stores (one place, so routes and hits agree)."""

from __future__ import annotations


def element_image_url(element_id: str) -> str:
    """Where a client fetches the PNG crop of a figure, table or formula (``GET /v1/elements/{id}/image``)."""
    return f"/v1/elements/{element_id}/image"
