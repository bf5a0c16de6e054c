"""The verifier answers a token it verified before from memory, and only that exact token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aimall_cart.auth import TokenVerifier, issue_token
from aimall_cart.config import Settings
from aimall_cart.errors import Unauthenticated


def test_a_remembered_token_names_its_member_and_a_tampered_copy_is_still_refused() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    verifier = TokenVerifier(settings)
    now = datetime.now(UTC)
    token = issue_token(settings, sub="u-1", role="customer", now=now, ttl=timedelta(minutes=5))
    other = issue_token(settings, sub="u-2", role="admin", now=now, ttl=timedelta(minutes=5))
    assert verifier.verify(token).user_id == "u-1"
    assert verifier.verify(token).user_id == "u-1"
    assert (verifier.verify(other).user_id, verifier.verify(other).role) == ("u-2", "admin")
    head, payload, signature = token.split(".")
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{head}.{payload}.{signature[:-3]}AAA")
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{head}.{other.split('.')[1]}.{signature}")


def test_a_token_from_another_verifier_is_not_remembered_here() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    now = datetime.now(UTC)
    token = issue_token(settings, sub="u-1", role="customer", now=now, ttl=timedelta(minutes=5))
    TokenVerifier(settings).verify(token)
    stricter = TokenVerifier(settings.model_copy(update={"jwt_issuer": "https://id.example"}))
    with pytest.raises(Unauthenticated):
        stricter.verify(token)
