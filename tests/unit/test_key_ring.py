"""The data key ring: parsing, sealing under the primary, opening under any key, refusals."""

from __future__ import annotations

import pytest

from aimall_cart.crypto import KeyRing, Unreadable, key_id_of, key_ring

OLD = "old:the-old-secret-0123456789abcdef0123456789"
NEW = "new:the-new-secret-0123456789abcdef0123456789"


def test_a_value_is_sealed_under_the_primary_and_names_it() -> None:
    ring = key_ring(f"{NEW},{OLD}")
    sealed = ring.seal("ann@mail.example", purpose="p", context="u-1")
    assert key_id_of(sealed) == "new"
    assert "ann" not in sealed
    assert ring.open(sealed, purpose="p", context="u-1") == "ann@mail.example"
    assert ring.is_current(sealed)


def test_any_key_of_the_ring_opens_what_it_sealed() -> None:
    sealed = key_ring(OLD).seal("Ann", purpose="p", context="u-1")
    ring = key_ring(f"{NEW},{OLD}")
    assert ring.open(sealed, purpose="p", context="u-1") == "Ann"
    assert not ring.is_current(sealed)


@pytest.mark.parametrize(
    ("ring", "purpose", "context"),
    [(NEW, "p", "u-1"), (f"{NEW},{OLD}", "other", "u-1"), (f"{NEW},{OLD}", "p", "u-2")],
)
def test_a_missing_key_another_purpose_or_another_row_is_unreadable(
    ring: str, purpose: str, context: str
) -> None:
    sealed = key_ring(OLD).seal("Ann", purpose="p", context="u-1")
    with pytest.raises(Unreadable) as refused:
        key_ring(ring).open(sealed, purpose=purpose, context=context)
    assert "Ann" not in str(refused.value)


def test_a_tampered_value_is_unreadable() -> None:
    ring = key_ring(OLD)
    sealed = ring.seal("Ann", purpose="p", context="u-1")
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    for bad in (flipped, "ak1.old.", "ak1.old.!!!", "plain text"):
        with pytest.raises(Unreadable):
            ring.open(bad, purpose="p", context="u-1")


SECRET = "s3cr3t-never-printed"


@pytest.mark.parametrize(
    "spec",
    [
        "",
        SECRET,
        f":{SECRET}",
        "k1:",
        f"bad id:{SECRET}",
        f"k1:{SECRET},k1:{SECRET}",
        "k" * 33 + f":{SECRET}",
    ],
)
def test_a_malformed_ring_is_refused_without_printing_a_secret(spec: str) -> None:
    with pytest.raises(ValueError, match="data key") as refused:
        KeyRing.parse(spec)
    assert SECRET not in str(refused.value)
