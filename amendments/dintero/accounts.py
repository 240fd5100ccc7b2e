"""The Dintero accounts one deployment serves, and how each is reached: with its own API client,
or through a partner account (Dintero's partner API: a partner token, exchanged for a token of
the merchant's account; `auth.PartnerTokenAuth`).

They come from `DINTERO_ACCOUNTS_FILE` (TOML) and from the single-account settings
(`DINTERO_ACCOUNT_ID`, `DINTERO_CLIENT_ID`, `DINTERO_CLIENT_SECRET`, which name the default
account, as before):

    default_account = "T22222222"          # optional: the account of an amendment naming none

    [accounts.T22222222]                   # a merchant with its own API client
    client_id = "..."
    client_secret = "..."                  # or client_secret_env = "VAR", client_secret_file
    checkout_profile_id = "T22222222.xyz"  # optional (PAYMENTS=dintero-checkout)
    signature_secret_env = "VAR"           # optional: or signature_secret, signature_secret_file

    [accounts.T33333333]                   # a merchant reached through a partner
    partner = "T11200000"

    [partners.T11200000]                   # a partner account: an id ending in five zeros
    client_id = "..."
    client_secret_env = "VAR"

The file's shape is checked when it is read, and an error names the file, the key and the reason.
A secret named by an environment variable or a file is read when its account is first used: one
merchant's missing secret refuses that merchant's amendments (naming the account and what is
missing), not every merchant's; the worker logs such accounts when it starts. No secret is ever
part of a message, a log line or a repr.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from amendments.domain.errors import AmendmentRejected
from amendments.domain.ids import ACCOUNT_ID

PARTNER_ID = re.compile(r"^[PT]\d{3}00000$")  # Dintero: a partner account ends in five zeros
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
AccountKey = Annotated[str, Field(pattern=ACCOUNT_ID.pattern)]
PartnerKey = Annotated[str, Field(pattern=PARTNER_ID.pattern)]
# How many accounts a message lists before it says how many more there are.
LISTED = 8


class AccountsFileError(ValueError):
    """The accounts file cannot be used: the message names the file, the key and the reason."""


class MissingSecret(ValueError):
    """A secret's environment variable or file cannot be read (the message says which)."""


@dataclass(frozen=True)
class SecretSource:
    """Where one secret comes from: the file itself, an environment variable or a file."""

    key: str  # where it is configured, for messages: `accounts.T22222222.client_secret_env`
    value: SecretStr | None = field(default=None, repr=False)
    env: str | None = None
    path: Path | None = None

    def read(self) -> SecretStr:
        if self.value is not None:
            return self.value
        if self.env is not None:
            found = os.environ.get(self.env, "")
            if not found.strip():
                raise MissingSecret(f"{self.key}: the environment variable {self.env} is not set")
            return SecretStr(found.strip())
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MissingSecret(f"{self.key}: cannot read {self.path} ({exc.strerror})") from None
        if not text:
            raise MissingSecret(f"{self.key}: {self.path} is empty")
        return SecretStr(text)


@dataclass(frozen=True)
class Partner:
    account_id: str
    client_id: str
    secret: SecretSource


@dataclass(frozen=True)
class Account:
    """One merchant account: its own client (`client_id`, `secret`) or a `partner`'s."""

    account_id: str
    client_id: str | None = None
    secret: SecretSource | None = None
    partner: Partner | None = None
    checkout_profile_id: str | None = None
    signature_secret: SecretSource | None = None

    @property
    def reached(self) -> str:
        return f"through partner {self.partner.account_id}" if self.partner else "directly"

    def unreadable(self) -> list[str]:
        """What of its credentials cannot be read now (empty: all can)."""
        sources = [self.secret, self.partner.secret if self.partner else None]
        problems = []
        for source in sources:
            if source is None:
                continue
            try:
                source.read()
            except MissingSecret as exc:
                problems.append(str(exc))
        return problems


def listed(account_ids: Iterable[str]) -> str:
    every = sorted(account_ids)
    shown = ", ".join(every[:LISTED])
    return shown + (f" and {len(every) - LISTED} more" if len(every) > LISTED else "")


@dataclass(frozen=True)
class Accounts:
    """The accounts a deployment serves and its default (None: every amendment names one)."""

    accounts: Mapping[str, Account]
    default: str | None = None

    def get(self, account_id: str | None) -> Account:
        """The account an amendment is for, or `AmendmentRejected` naming `account_id`."""
        if account_id is None:
            if self.default is None:
                raise AmendmentRejected(
                    "account_id",
                    f"required: this deployment serves {len(self.accounts)} accounts "
                    f"({listed(self.accounts)}) and none is the default",
                )
            account_id = self.default
        found = self.accounts.get(account_id)
        if found is None:
            raise AmendmentRejected(
                "account_id",
                f"{account_id} is not an account this deployment serves "
                f"(it serves {listed(self.accounts)})",
            )
        return found


# --- the file -------------------------------------------------------------------------------


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _sources(table: BaseModel, name: str) -> list[str]:
    """Which of `name`, `name_env`, `name_file` a table gives."""
    return [key for key in (name, f"{name}_env", f"{name}_file") if getattr(table, key) is not None]


class _Secrets(_Table):
    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    client_secret: SecretStr | None = None
    client_secret_env: str | None = Field(default=None, pattern=ENV_NAME)
    client_secret_file: Path | None = None

    def _one_secret(self) -> None:
        given = _sources(self, "client_secret")
        if self.client_id is not None and len(given) != 1:
            raise ValueError(
                "with client_id give exactly one of client_secret, client_secret_env, "
                f"client_secret_file (given: {', '.join(given) or 'none'})"
            )
        if self.client_id is None and given:
            raise ValueError(f"{given[0]} without client_id")


class AccountTable(_Secrets):
    partner: PartnerKey | None = None
    checkout_profile_id: str | None = Field(default=None, min_length=1, max_length=200)
    signature_secret: SecretStr | None = None
    signature_secret_env: str | None = Field(default=None, pattern=ENV_NAME)
    signature_secret_file: Path | None = None

    @model_validator(mode="after")
    def _reached_one_way(self) -> AccountTable:
        if (self.partner is None) == (self.client_id is None):
            raise ValueError(
                "give client_id (and its secret), or partner = the partner account that acts "
                "for this one; not both, not neither"
            )
        self._one_secret()
        signing = _sources(self, "signature_secret")
        if len(signing) > 1:
            raise ValueError(f"give one of {', '.join(signing)}")
        return self


class PartnerTable(_Secrets):
    client_id: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _secret(self) -> PartnerTable:
        self._one_secret()
        return self


class AccountsFile(_Table):
    default_account: AccountKey | None = None
    accounts: dict[AccountKey, AccountTable] = Field(min_length=1)
    partners: dict[PartnerKey, PartnerTable] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> AccountsFile:
        for account_id, table in self.accounts.items():
            if table.partner is not None and table.partner not in self.partners:
                raise ValueError(
                    f"accounts.{account_id}.partner: {table.partner} has no [partners."
                    f"{table.partner}] table"
                )
        if self.default_account is not None and self.default_account not in self.accounts:
            raise ValueError(f"default_account: {self.default_account} is not in [accounts]")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if part != "[key]"]
    return ".".join(parts) + (" (the table's name)" if "[key]" in loc else "")


def read_accounts_file(path: Path) -> AccountsFile:
    """The file, or `AccountsFileError` naming the file, the key and the reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccountsFileError(f"DINTERO_ACCOUNTS_FILE {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AccountsFileError(f"DINTERO_ACCOUNTS_FILE {path}: not TOML: {exc}") from None
    try:
        return AccountsFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(first["loc"])
        reason = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "not a key this file takes"
        elif first["type"] == "string_pattern_mismatch":
            reason = f"{first['input']!r} does not match {first['ctx']['pattern']}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise AccountsFileError(
            f"DINTERO_ACCOUNTS_FILE {path}: {where + ': ' if where else ''}{reason}{more}"
        ) from None


def _source(table: BaseModel, name: str, where: str) -> SecretSource | None:
    given = _sources(table, name)
    if not given:
        return None
    key = given[0]
    value: Any = getattr(table, key)
    if key.endswith("_env"):
        return SecretSource(f"{where}.{key}", env=value)
    if key.endswith("_file"):
        return SecretSource(f"{where}.{key}", path=value)
    return SecretSource(f"{where}.{key}", value=value)


def accounts_of(
    file: AccountsFile | None, single: Account | None = None, *, where: str = ""
) -> Accounts:
    """The accounts the file and the single-account settings name; the single account is the
    default, else the file's `default_account`, else the file's one account."""
    accounts: dict[str, Account] = {}
    if single is not None:
        accounts[single.account_id] = single
    if file is not None:
        partners = {
            pid: Partner(pid, table.client_id, _required(_source(table, "client_secret", pid)))
            for pid, table in file.partners.items()
        }
        for aid, table in file.accounts.items():
            if aid in accounts:
                raise AccountsFileError(
                    f"DINTERO_ACCOUNTS_FILE {where}: accounts.{aid}: also DINTERO_ACCOUNT_ID; "
                    "name each account once"
                )
            key = f"accounts.{aid}"
            accounts[aid] = Account(
                account_id=aid,
                client_id=table.client_id,
                secret=_source(table, "client_secret", key),
                partner=partners[table.partner] if table.partner is not None else None,
                checkout_profile_id=table.checkout_profile_id,
                signature_secret=_source(table, "signature_secret", key),
            )
    default = single.account_id if single is not None else None
    if default is None and file is not None:
        default = file.default_account or (
            next(iter(file.accounts)) if len(file.accounts) == 1 else None
        )
    return Accounts(accounts, default)


def _required(source: SecretSource | None) -> SecretSource:
    assert source is not None  # the table's validator required one
    return source
