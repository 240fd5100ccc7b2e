"""Payload encryption: every payload is encrypted before it leaves a process for Temporal.

Opt-in by one setting, `ENCRYPTION_KEYS`: comma-separated `key_id:base64key` entries, each a
32-byte AES-256-GCM key, the first one current. With it set, the one data converter of every
process (worker, CLI, starter API, callbacks receiver, demo) runs payloads through
`EncryptionCodec`: each payload is serialized whole (metadata and data), sealed with the current
key and a fresh 96-bit nonce (the key id as associated data, so a payload cannot be passed off
under another key), and carried as `binary/encrypted` with the key id in its metadata (the
layout of Temporal's `encryption` sample). Decoding opens each payload with the key it names;
an unknown key id is refused with an error that names it. A payload that is not encrypted
(plain `json/plain`, from a backend without the key) passes through, so such a backend can still
start an amendment. Failures are encoded too (`DefaultFailureConverterWithEncodedAttributes`):
Dintero's messages travel inside the encrypted attributes, not in plaintext.

Key rotation: put a new key in front and restart the processes; payloads written under the old
key still decode while it stays listed. The AES-GCM cipher is `cryptography`'s; nothing here is
a cipher of its own. Keys never appear in a message, a log line or a repr.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PLAIN_DATA_CONVERTER: DataConverter = pydantic_data_converter


class EncryptionKeysError(ValueError):
    """`ENCRYPTION_KEYS` is malformed; the message names the entry, never a key."""


class UnknownEncryptionKey(ValueError):
    """A payload names a key that is not configured, or does not open with it."""


@dataclasses.dataclass(frozen=True, repr=False)
class Keyring:
    """The configured keys, in order: the first one encrypts; any of them decrypts."""

    keys: Mapping[str, bytes]

    @property
    def current(self) -> str:
        return next(iter(self.keys))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.keys)

    def __repr__(self) -> str:
        return f"Keyring(ids={list(self.keys)})"


def parse_keys(text: str) -> Keyring:
    """`key_id:base64key,...` -> a Keyring, or `EncryptionKeysError` naming what is wrong."""
    keys: dict[str, bytes] = {}
    entries = [entry.strip() for entry in text.split(",")]
    for index, entry in enumerate(entries):
        where = f"ENCRYPTION_KEYS entry {index + 1}"
        key_id, colon, encoded = entry.partition(":")
        if not colon:
            raise EncryptionKeysError(f"{where}: expected key_id:base64key")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise EncryptionKeysError(
                f"{where}: the key id must be 1-64 characters of A-Z a-z 0-9 _ . -"
            )
        if key_id in keys:
            raise EncryptionKeysError(f"{where}: key id {key_id!r} is listed twice")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise EncryptionKeysError(f"{where} ({key_id}): the key is not base64") from None
        if len(key) != 32:
            raise EncryptionKeysError(
                f"{where} ({key_id}): an AES-256 key is 32 bytes, this one is {len(key)}"
            )
        keys[key_id] = key
    return Keyring(keys)


def new_key() -> str:
    """A fresh key, base64: what `amend codec-server --new-key` prints."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not self._keyring.keys:
            return list(payloads)  # no keys (a codec server of a stack that does not encrypt)
        key_id = self._keyring.current
        cipher = self._ciphers[key_id]
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            sealed.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: key_id.encode()},
                    data=nonce + data,
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # not encrypted: a backend without the key
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise UnknownEncryptionKey(
                    f"a payload is encrypted with key {key_id!r}, which is not in "
                    f"ENCRYPTION_KEYS (known: {', '.join(self._keyring.ids) or 'none'}); add "
                    "that key back (a key is removed only once no run needs it)"
                )
            nonce, data = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            try:
                plain = cipher.decrypt(nonce, data, key_id.encode())
            except InvalidTag:
                raise UnknownEncryptionKey(
                    f"a payload under key {key_id!r} does not open with the configured key of "
                    "that id (a different key was given that id, or the payload was altered)"
                ) from None
            opened.append(Payload.FromString(plain))
        return opened


def data_converter(keyring: Keyring | None) -> DataConverter:
    """The product's one data converter: pydantic's JSON, and with keys, encrypted payloads and
    encoded failure attributes."""
    if keyring is None:
        return PLAIN_DATA_CONVERTER
    return dataclasses.replace(
        PLAIN_DATA_CONVERTER,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
