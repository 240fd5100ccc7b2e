"""The accounts a deployment serves (`DINTERO_ACCOUNTS_FILE` and the single-account settings):
a bad file is refused naming the file, the key and the reason; a missing secret refuses only its
account, naming the variable; an unknown account is refused naming `account_id` and what is
served; no secret is ever in a message or a repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from amendments.config import Settings, SettingsError
from amendments.dintero.accounts import (
    LISTED,
    Account,
    Accounts,
    AccountsFileError,
    MissingSecret,
    accounts_of,
    read_accounts_file,
)
from amendments.domain.errors import AmendmentRejected

GOOD = """
default_account = "T22222222"

[accounts.T22222222]
client_id = "merchant-a"
client_secret = "inline-secret-a"
checkout_profile_id = "T22222222.shop"
signature_secret_env = "SIG_A"

[accounts.T44444444]
client_id = "merchant-b"
client_secret_file = "b.secret"

[accounts.T33333333]
partner = "T11200000"

[partners.T11200000]
client_id = "partner"
client_secret_env = "PARTNER_SECRET"
"""


def write(tmp_path: Path, text: str, name: str = "accounts.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.secret").write_text("file-secret-b\n")
    monkeypatch.setenv("PARTNER_SECRET", "env-secret-p")
    served = accounts_of(read_accounts_file(write(tmp_path, GOOD)))
    assert served.default == "T22222222"
    a, b, p = (served.get(aid) for aid in ("T22222222", "T44444444", "T33333333"))
    assert served.get(None) is a
    assert (a.client_id, a.checkout_profile_id, a.reached) == (
        "merchant-a",
        "T22222222.shop",
        "directly",
    )
    assert a.secret is not None
    assert a.secret.read().get_secret_value() == "inline-secret-a"
    assert b.secret is not None
    assert b.secret.read().get_secret_value() == "file-secret-b"
    assert p.partner is not None
    assert (p.partner.account_id, p.reached) == ("T11200000", "through partner T11200000")
    assert p.partner.secret.read().get_secret_value() == "env-secret-p"
    for secret in ("inline-secret-a", "file-secret-b", "env-secret-p"):
        assert secret not in repr(served)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[accounts.T2222]\nclient_id='a'\nclient_secret='s'", "accounts.T2222 (the table's name)"),
        ("[accounts.T22222222]\nclient_id='a'", "exactly one of client_secret"),
        (
            "[accounts.T22222222]\nclient_id='a'\nclient_secret='s'\nclient_secret_env='X'",
            "given: client_secret, client_secret_env",
        ),
        ("[accounts.T22222222]\ncheckout_profile_id='x'", "not both, not neither"),
        (
            "[accounts.T22222222]\npartner='T11200000'\nclient_id='a'\nclient_secret='s'",
            "not both, not neither",
        ),
        ("[accounts.T22222222]\npartner='T11200000'", "T11200000 has no [partners.T11200000]"),
        ("[accounts.T22222222]\npartner='T11212345'", "accounts.T22222222.partner"),
        ("[accounts.T22222222]\nclient_id='a'\nclient_secret='s'\nsecret='x'", "secret: not a"),
        ("default_account='T99999999'\n[accounts.T22222222]\npartner='T11200000'\n"
         "[partners.T11200000]\nclient_id='p'\nclient_secret='s'", "default_account"),
        ("[partners.T11200000]\nclient_id='p'\nclient_secret='s'", "accounts"),
        ("[accounts.T22222222\n", "not TOML"),
        ("[accounts.T22222222]\nclient_id='a'\nclient_secret_env='a b'", "client_secret_env"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, says: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AccountsFileError) as refused:
        read_accounts_file(path)
    message = str(refused.value)
    assert message.startswith(f"DINTERO_ACCOUNTS_FILE {path}: ")
    assert says in message
    assert "'s'" not in message  # never a secret's value


def test_a_missing_secret_refuses_its_account_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARTNER_SECRET", raising=False)
    served = accounts_of(read_accounts_file(write(tmp_path, GOOD)))
    p = served.get("T33333333")
    assert p.partner is not None
    with pytest.raises(MissingSecret, match="the environment variable PARTNER_SECRET is not set"):
        p.partner.secret.read()
    assert p.unreadable() == [
        "T11200000.client_secret_env: the environment variable PARTNER_SECRET is not set"
    ]
    b = served.get("T44444444")
    assert b.unreadable() == ["accounts.T44444444.client_secret_file: cannot read b.secret "
                              "(No such file or directory)"]  # fmt: skip
    assert served.get("T22222222").unreadable() == []


def test_an_unknown_account_or_none_without_a_default_is_refused_naming_account_id() -> None:
    many = Accounts({f"T{n:08d}": Account(f"T{n:08d}") for n in range(1, LISTED + 4)}, default=None)
    with pytest.raises(AmendmentRejected) as refused:
        many.get("T99999999")
    assert refused.value.field == "account_id"
    assert "T99999999 is not an account this deployment serves" in refused.value.reason
    assert "and 3 more" in refused.value.reason
    with pytest.raises(AmendmentRejected, match="required: this deployment serves 11 accounts"):
        many.get(None)


def test_the_single_account_settings_name_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = Settings(
        _env_file=None,
        dintero_account_id="T12345678",
        dintero_client_id="c",
        dintero_client_secret=SecretStr("single-secret"),
        dintero_checkout_profile_id="T12345678.p",
    )
    served = single.accounts()
    assert (served.default, list(served.accounts)) == ("T12345678", ["T12345678"])
    assert served.get(None).checkout_profile_id == "T12345678.p"
    other = write(tmp_path, "[accounts.T22222222]\nclient_id='a'\nclient_secret='s'\n")
    both = single.model_copy(update={"dintero_accounts_file": other}).accounts()
    assert (both.default, sorted(both.accounts)) == ("T12345678", ["T12345678", "T22222222"])
    twice = write(tmp_path, "[accounts.T12345678]\nclient_id='a'\nclient_secret='s'\n", "2.toml")
    with pytest.raises(SettingsError, match=r"accounts\.T12345678: also DINTERO_ACCOUNT_ID"):
        single.model_copy(update={"dintero_accounts_file": twice}).accounts()
    alone = Settings(_env_file=None, dintero_accounts_file=other).accounts()
    assert alone.default == "T22222222"  # the file's one account
    with pytest.raises(SettingsError, match="missing setting"):
        Settings(_env_file=None).accounts()
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(SettingsError, match=f"DINTERO_ACCOUNTS_FILE {missing}: No such file"):
        Settings(_env_file=None, dintero_accounts_file=missing).accounts()
