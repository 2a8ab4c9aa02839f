"""Secrets at rest: Fernet under ENCRYPTION_KEYS, newest key first, rotation, unreadable keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from agency import crypto


@pytest.fixture
def keys(app, monkeypatch):
    """Replace the app's keys for one test: returns a setter taking a list of keys."""
    from dataclasses import replace

    original = app.config["REGIA"]

    def use(*given: bytes) -> None:
        monkeypatch.setitem(
            app.config, "REGIA", replace(original, encryption_keys=tuple(k.decode() for k in given))
        )

    return use


def test_round_trip_hides_the_plaintext(app):
    token = crypto.encrypt_json({"b": "two", "a": "s3cr3t-value"})
    assert "s3cr3t-value" not in token
    assert crypto.decrypt_json(token) == {"a": "s3cr3t-value", "b": "two"}


def test_nothing_stored_decrypts_to_an_empty_mapping(app):
    assert crypto.decrypt_json(None) == {}
    assert crypto.decrypt_json("") == {}


def test_new_values_use_the_first_key_and_old_ones_still_decrypt(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    before = crypto.encrypt_json({"access_token": "x1"})
    keys(new, old)
    after = crypto.encrypt_json({"access_token": "x2"})
    assert crypto.decrypt_json(before) == {"access_token": "x1"}
    keys(new)
    assert crypto.decrypt_json(after) == {"access_token": "x2"}
    # The operator reads this: it must name the setting to fix.
    with pytest.raises(crypto.SecretsUnreadable, match=r"^no ENCRYPTION_KEYS entry decrypts"):
        crypto.decrypt_json(before)


def test_rotate_re_encrypts_under_the_newest_key(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    token = crypto.encrypt_json({"secret": "whsec"})
    keys(new, old)
    rotated = crypto.rotate(token)
    assert rotated != token
    keys(new)
    assert crypto.decrypt_json(rotated) == {"secret": "whsec"}


def test_a_tampered_value_is_unreadable(app):
    token = crypto.encrypt_json({"access_token": "x"})
    with pytest.raises(crypto.SecretsUnreadable):
        crypto.decrypt_json(token[:-4] + "AAAA")
