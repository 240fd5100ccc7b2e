"""What a workflow or a handler was sent, validated by the product rather than the SDK.

The workflows take `*payload: Any`: the SDK decodes any number of plain JSON values and never
fails a workflow task over a payload. These helpers turn the values into the product's models,
or into `AmendmentRejected` naming the field and the reason, in the same words the starter API
gives; a refused workflow input closes the run at once with a non-retryable failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ApplicationError

from amendments.domain.errors import AmendmentRejected
from amendments.domain.top_up import NotOneArgument, single
from amendments.failures import Failure

M = TypeVar("M", bound=BaseModel)


def parse_input(payload: Sequence[Any], model: type[M], what: str) -> M:
    """The validated argument, or `AmendmentRejected` naming the field and the reason (the same
    words the starter API gives)."""
    value = single(payload)
    if isinstance(value, NotOneArgument):
        raise value.problem(what)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise AmendmentRejected.from_validation_error(exc) from None


def rejection(exc: AmendmentRejected, failure: Failure) -> ApplicationError:
    """A refused input, as the non-retryable failure that closes the run (or fails the update)
    at once: `AmendmentRejected`, `OrderRejected` or `RevertRefused`."""
    return failure.error(str(exc), exc.details())
