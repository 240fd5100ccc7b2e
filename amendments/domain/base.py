"""The domain's one base model: frozen, and refusing unknown fields (a typo is an error, not a
silently dropped value). Every domain and activity model derives from it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
