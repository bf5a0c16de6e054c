"""Secrets the service mints, the keyed hashes it keeps instead of them, and sealed records."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GUEST_TOKEN_BYTES = 32  # 256 random bits; the contract asks for at least 128.


def new_guest_token() -> str:
    return secrets.token_urlsafe(GUEST_TOKEN_BYTES)


def keyed_hash(value: str, *, key: str) -> str:
    """HMAC-SHA256, so a leaked table of hashes cannot be checked against guessed tokens."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def derive_key(secret: str, *, purpose: str) -> bytes:
    """A 256-bit key for one purpose, so one configured secret never keys two uses directly."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret.encode()
    )


def seal(plaintext: bytes, *, key: bytes, context: bytes) -> bytes:
    """AES-256-GCM with a random nonce; ``context`` is bound as associated data."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(sealed: bytes, *, key: bytes, context: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], context)
