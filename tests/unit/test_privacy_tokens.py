"""Unsubscribe tokens: what one names, and that no altered spelling of one is accepted."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimall_cart.crypto import key_ring
from aimall_cart.privacy.service import (
    InvalidUnsubscribeToken,
    unsubscribe_token,
    unsubscribe_url,
    user_of_token,
)

KEY = key_ring("unit:unit-test-data-key-0123456789abcdef")
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
user_ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=128)


@given(user_id=user_ids)
def test_token_names_its_member_and_is_url_safe(user_id: str) -> None:
    token = unsubscribe_token(KEY, user_id)
    assert URL_SAFE.match(token)
    assert user_of_token(KEY, token) == user_id


def test_token_does_not_expire_or_change() -> None:
    assert unsubscribe_token(KEY, "u-1") == unsubscribe_token(KEY, "u-1")


def test_url_points_at_the_unsubscribe_endpoint() -> None:
    token = unsubscribe_token(KEY, "u-1")
    expected = f"https://shop.example/v1/unsubscribe?token={token}"
    assert unsubscribe_url("https://shop.example/", KEY, "u-1") == expected
    assert unsubscribe_url("https://shop.example", KEY, "u-1") == expected


def test_every_single_character_change_is_refused() -> None:
    token = unsubscribe_token(KEY, "member-42")
    for position, original in enumerate(token):
        for replacement in {"A", "B", "-", "_"} - {original}:
            tampered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidUnsubscribeToken):
                user_of_token(KEY, tampered)


def test_token_under_another_key_is_refused() -> None:
    with pytest.raises(InvalidUnsubscribeToken):
        user_of_token(KEY, unsubscribe_token(key_ring("other:another-data-key"), "u-1"))


def test_member_swapped_under_a_valid_mac_is_refused() -> None:
    genuine = unsubscribe_token(KEY, "u-1")
    other = unsubscribe_token(KEY, "u-2")
    # Same length ids, so the MAC sits in the same characters of both tokens.
    swapped = other[:4] + genuine[4:]
    assert swapped not in (genuine, other)
    with pytest.raises(InvalidUnsubscribeToken):
        user_of_token(KEY, swapped)


@pytest.mark.parametrize(
    "respell",
    [
        lambda t: t + "=" * (-len(t) % 4 or 4),
        lambda t: t.replace("-", "+").replace("_", "/"),
        lambda t: t + " ",
        lambda t: " " + t,
        lambda t: t[:10] + "." + t[10:],
        lambda t: t[:-1],
        lambda t: t[:43],
        lambda t: "",
        lambda t: t * 20,
        lambda t: t + "é",
    ],
)
def test_other_spellings_of_a_token_are_refused(respell: Callable[[str], str]) -> None:
    token = unsubscribe_token(KEY, "member-42")  # spelled with both "-" and "_"
    assert set("-_") <= set(token)
    with pytest.raises(InvalidUnsubscribeToken):
        user_of_token(KEY, respell(token))
