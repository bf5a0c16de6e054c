"""The arithmetic of the figures: sums, rates, and which cells a seller may not see.

Suppression (docs/analytics.md): a cell (a product, or a day) drawn from at least one and fewer
than ``min_group`` distinct carts is withheld. If any is, more cells are withheld with it, the
smallest first, until at least two are withheld and the carts behind the withheld cells, counted
as low as they could be, reach ``min_group``: subtracting the shown cells from the total then
only ever gives a figure about ``min_group`` carts or more, never about a withheld cell alone.
A total drawn from fewer than ``min_group`` carts is withheld with every cell under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

RATE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts of distinct carts, units and values (minor units), summed over days."""

    carts_created: int = 0
    carts: int = 0
    units_added: int = 0
    value_added: int = 0
    checkouts_started: int = 0
    converted_carts: int = 0
    converted_value: int = 0
    abandoned_carts: int = 0
    abandoned_value: int = 0
    recovered_carts: int = 0
    reason_price: int = 0
    reason_availability: int = 0
    reason_other: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Figures)))

    @property
    def size(self) -> int:
        """How many distinct carts the cell's figures are drawn from, at least."""
        return max(
            self.carts,
            self.checkouts_started,
            self.converted_carts,
            self.abandoned_carts,
            self.recovered_carts,
        )

    def rates(self) -> dict[str, float | None]:
        return {
            "abandonment_rate": rate(self.abandoned_carts, self.carts),
            "conversion_rate": rate(self.converted_carts, self.carts),
            "recovery_rate": rate(self.recovered_carts, self.abandoned_carts),
        }

    def reasons(self) -> dict[str, int]:
        return {
            "price": self.reason_price,
            "availability": self.reason_availability,
            "other": self.reason_other,
        }


FIGURE_NAMES = tuple(f.name for f in fields(Figures))


def total(cells: Iterable[Figures]) -> Figures:
    found = Figures()
    for cell in cells:
        found = found + cell
    return found


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def withheld(sizes: Mapping[str, int], *, total_size: int, min_group: int) -> set[str]:
    """The cells to withhold, by key, given each cell's size and the size of their total."""
    if total_size < min_group:
        return set(sizes)
    hidden = {key for key, size in sizes.items() if 0 < size < min_group}
    if not hidden:
        return hidden
    shown = sorted((key for key in sizes if key not in hidden), key=lambda k: (sizes[k], k))

    def covered() -> int:
        # The withheld cells' carts are at least the largest of them, and at least what the
        # total holds beyond every shown cell.
        beyond_shown = total_size - sum(sizes[key] for key in shown)
        return max(max(sizes[key] for key in hidden), beyond_shown)

    while shown and (len(hidden) < 2 or covered() < min_group):
        hidden.add(shown.pop(0))
    return hidden
