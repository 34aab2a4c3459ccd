"""Encryption at rest of free text: a goal's `description` and `context`, a feedback update's `note`.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with the keys of LAYER2_ENCRYPTION_KEYS
(comma-separated; the first encrypts, every one decrypts: MultiFernet), so a key is rotated by
putting the new one first and keeping the old ones until `layer2-planning encryption rotate` has
re-encrypted the rows. An encrypted value is stored in place of the plain one as
`{"$enc": "<fernet token>"}` (the JSON of the value, encrypted); a plain value (written before
encryption was configured) is read as it is. No key configured: values are stored as sent.

The columns' type (`EncryptedJSON`) encrypts on the way in and decrypts on the way out, for the ORM
and Core statements alike; a statement written as SQL text calls `encrypt_fields` itself.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.dialects.postgresql import JSONB

MARK = "$enc"


class EncryptionError(RuntimeError):
    """A stored value that no configured key decrypts."""


def cipher_from_keys(keys: tuple[str, ...]) -> MultiFernet | None:
    """The MultiFernet of the keys (ValueError naming the bad one), or None when there is none."""
    fernets = []
    for index, key in enumerate(keys):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise ValueError(f"key {index + 1} is not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return MultiFernet(fernets) if fernets else None


def _cipher() -> MultiFernet | None:
    from flask import current_app, has_app_context

    return current_app.extensions.get("layer2_cipher") if has_app_context() else None


def encrypt_fields(document, names: tuple[str, ...], cipher: MultiFernet | None = None):
    """A copy of the dict with the named fields encrypted (the dict itself when there is nothing to do)."""
    cipher = cipher or _cipher()
    if cipher is None or not isinstance(document, dict) or not any(document.get(n) is not None for n in names):
        return document
    out = dict(document)
    for name in names:
        value = out.get(name)
        if value is not None and not (isinstance(value, dict) and MARK in value):
            out[name] = {MARK: cipher.encrypt(json.dumps(value).encode()).decode()}
    return out


def decrypt_fields(document, names: tuple[str, ...], cipher: MultiFernet | None = None):
    if not isinstance(document, dict) or not any(isinstance(document.get(n), dict) and MARK in document[n]
                                                 for n in names):
        return document
    cipher = cipher or _cipher()
    out = dict(document)
    for name in names:
        value = out.get(name)
        if isinstance(value, dict) and MARK in value:
            if cipher is None:
                raise EncryptionError(f"{name} is encrypted and no LAYER2_ENCRYPTION_KEYS is configured")
            try:
                out[name] = json.loads(cipher.decrypt(value[MARK].encode()))
            except InvalidToken:
                raise EncryptionError(f"{name}: no configured key decrypts it (LAYER2_ENCRYPTION_KEYS)") from None
    return out


def rotate_fields(document, names: tuple[str, ...], cipher: MultiFernet):
    """The dict with the named fields encrypted under the first key (plain ones encrypted too)."""
    return encrypt_fields(decrypt_fields(document, names, cipher), names, cipher)


class EncryptedJSON(sa.TypeDecorator):
    """A JSON document (JSONB on PostgreSQL) whose named top-level fields are stored encrypted."""

    impl = sa.JSON
    cache_ok = True

    def __init__(self, *fields: str):
        super().__init__()
        self.fields = tuple(fields)

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else sa.JSON())

    def process_bind_param(self, value, dialect):
        return encrypt_fields(value, self.fields)

    def process_result_value(self, value, dialect):
        return decrypt_fields(value, self.fields)
