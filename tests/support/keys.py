"""Encryption keys for tests only (never for a real deployment): fixed, so that the stored
encrypted histories (`tests/histories/encrypted/`) keep decoding."""

from __future__ import annotations

import base64

from amendments.temporal.codec import Keyring, parse_keys

KEY_1 = "test-1:" + base64.b64encode(bytes(range(32))).decode()
KEY_2 = "test-2:" + base64.b64encode(bytes(range(32, 64))).decode()
ROTATED = f"{KEY_2},{KEY_1}"  # key 2 current, key 1 still listed


def keyring(text: str = KEY_1) -> Keyring:
    return parse_keys(text)
