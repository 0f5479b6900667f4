"""API keys of the collector: format, digest and constant-time check. Pure (no I/O).

A key is `fbk_<key id>_<secret>`: the key id (12 hex characters) is public and finds the stored
row; the secret (256 random bits) is never stored. The store keeps SHA-256 of the whole key: a
slow KDF adds nothing for a secret with this much entropy, and a lookup costs one hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "fbk"
# The scope of an erasure key (`keys create --erasure`): it may only call DELETE /v1/users/{id},
# which crosses deployments; it can write no events. Never a valid deployment id to write to.
ERASURE_SCOPE = "*erasure*"
KEY_ID_CHARS = 12


def new_api_key() -> tuple[str, str]:
    """A new (key id, key); show the key once, store only key_digest(key)."""
    key_id = secrets.token_hex(KEY_ID_CHARS // 2)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != KEY_ID_CHARS or len(secret) < 32:
        return None
    return key_id


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, digest: str) -> bool:
    """Whether `key` hashes to the stored digest, in constant time."""
    return hmac.compare_digest(key_digest(key), digest)
