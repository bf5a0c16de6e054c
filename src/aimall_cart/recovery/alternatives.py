"""Alternatives for unavailable or short lines: in-stock products of the same category in a nearby
price band, ranked by TF-IDF similarity of name, category and description."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Alternative:
    product_id: str
    variant_id: str
    name: str
    unit_price: int  # net of the variant's own discount
    score: float
