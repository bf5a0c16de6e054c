"""Secrets the service mints and the keyed hashes it keeps instead of them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

GUEST_TOKEN_BYTES = 32  # 256 random bits; the contract asks for at least 128.


def new_guest_token() -> str:
    return secrets.token_urlsafe(GUEST_TOKEN_BYTES)


def keyed_hash(value: str, *, key: str) -> str:
    """HMAC-SHA256, so a leaked table of hashes cannot be checked against guessed tokens."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
