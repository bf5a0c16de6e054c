"""Secrets the service mints, the keyed hashes it keeps instead of them, and sealed values.

A sealed value is text, ``ak1.<key id>.<base64url(nonce + AES-256-GCM ciphertext)>``: it names
the key it was sealed under, so any key of the ring opens it and rotation can tell what is left
to re-seal. Each use derives its own key from the ring's secret (``purpose``), and each value is
bound to its row (``context``, the associated data), so a sealed value copied into another row
or another column does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GUEST_TOKEN_BYTES = 32  # 256 random bits; the contract asks for at least 128.
SEALED_PREFIX = "ak1."
_NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Unreadable(ValueError):
    """A sealed value that no key of the ring opens: its key left the ring, or it was changed.
    The message names the key id, never the value."""


def new_guest_token() -> str:
    return secrets.token_urlsafe(GUEST_TOKEN_BYTES)


def keyed_hash(value: str, *, key: str) -> str:
    """HMAC-SHA256, so a leaked table of hashes cannot be checked against guessed tokens."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=256)
def derive_key(secret: str, *, purpose: str) -> bytes:
    """A 256-bit key for one purpose, so one configured secret never keys two uses directly.
    Cached: a page of sealed values derives each key once."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret.encode()
    )


def seal(plaintext: bytes, *, key: bytes, context: bytes) -> bytes:
    """AES-256-GCM with a random nonce under one key, ``context`` bound as associated data: for
    short-lived values (replayed responses) that never outlive their key."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(sealed: bytes, *, key: bytes, context: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id_of(sealed: str | bytes) -> str | None:
    """The key id a sealed value names; None for a value from before key ids (or not sealed)."""
    text = sealed.decode("latin-1") if isinstance(sealed, bytes) else sealed
    if not text.startswith(SEALED_PREFIX):
        return None
    kid, dot, _ = text[len(SEALED_PREFIX) :].partition(".")
    return kid if dot and KEY_ID_PATTERN.match(kid) else None


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The data keys by id, the first the primary: new values are sealed under the primary, and
    a value sealed under any key of the ring opens."""

    keys: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """``kid:secret,kid:secret``; the error names the faulty key id, never a secret."""
        keys: list[tuple[str, str]] = []
        for position, entry in enumerate(part.strip() for part in spec.split(",")):
            kid, colon, secret = entry.partition(":")
            if not colon or not KEY_ID_PATTERN.match(kid) or not secret:
                raise ValueError(
                    f"data key {position + 1} must read <key id>:<secret>, the key id made of "
                    "letters, digits, - and _ (at most 32)"
                )
            if kid in dict(keys):
                raise ValueError(f"data key id {kid!r} appears twice")
            keys.append((kid, secret))
        return cls(tuple(keys))

    @property
    def primary(self) -> str:
        return self.keys[0][0]

    def secret(self, kid: str) -> str | None:
        return dict(self.keys).get(kid)

    def seal(self, plaintext: str, *, purpose: str, context: str) -> str:
        kid, secret = self.keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(derive_key(secret, purpose=purpose)).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return f"{SEALED_PREFIX}{kid}.{_b64(nonce + sealed)}"

    def open(self, sealed: str, *, purpose: str, context: str) -> str:
        """The plaintext; ``Unreadable`` when its key is not in the ring or it does not open."""
        kid = key_id_of(sealed)
        if kid is None:
            raise Unreadable("the value names no key id")
        secret = self.secret(kid)
        if secret is None:
            raise Unreadable(f"the value is sealed under key {kid!r}, which the ring lacks")
        try:
            raw = _unb64(sealed.rpartition(".")[2])
            return _open_raw(raw, derive_key(secret, purpose=purpose), context).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise Unreadable(f"the value does not open under key {kid!r}") from None

    def open_legacy(self, raw: bytes, *, purpose: str, context: str) -> str:
        """A value sealed before key ids (nonce and ciphertext, no key id): every key of the
        ring is tried, so naming the old single key in the ring keeps such values readable."""
        for _kid, secret in self.keys:
            try:
                return _open_raw(raw, derive_key(secret, purpose=purpose), context).decode()
            except (InvalidTag, ValueError):
                continue
        raise Unreadable("a value sealed before key ids opens under no key of the ring")

    def is_current(self, sealed: str | bytes | None) -> bool:
        """Sealed under the primary (or nothing there): rotation leaves it alone."""
        return sealed is None or key_id_of(sealed) == self.primary


def _open_raw(raw: bytes, key: bytes, context: str) -> bytes:
    if len(raw) <= _NONCE_BYTES:
        raise ValueError("too short to be sealed")
    return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())


@lru_cache(maxsize=16)
def key_ring(spec: str) -> KeyRing:
    return KeyRing.parse(spec)


def mac(ring: KeyRing, message: bytes, *, purpose: str) -> bytes:
    """HMAC-SHA256 under the primary key's derivation for ``purpose``."""
    return hmac.new(derive_key(ring.keys[0][1], purpose=purpose), message, hashlib.sha256).digest()


def mac_matches(ring: KeyRing, message: bytes, tag: bytes, *, purpose: str) -> bool:
    """Whether ``tag`` is the MAC of ``message`` under any key of the ring, so what was signed
    before a rotation still verifies while its key stays in the ring."""
    return any(
        hmac.compare_digest(
            tag, hmac.new(derive_key(secret, purpose=purpose), message, hashlib.sha256).digest()
        )
        for _kid, secret in ring.keys
    )
