"""The README's configuration table lists every setting."""

from __future__ import annotations

from pathlib import Path

from aimall_cart.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_lists_every_setting() -> None:
    text = README.read_text()
    missing = [
        name for name in Settings.model_fields if f"`AIMALL_CART_{name.upper()}`" not in text
    ]
    assert missing == []
