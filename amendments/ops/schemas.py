"""The JSON Schemas of the product's contracts, generated from the models into `schemas/`.

`python -m amendments.ops.schemas` rewrites them; a test fails when a checked-in file is out of
date, so backends in other languages can trust `schemas/` as the contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from amendments.domain.models import (
    AmendmentResult,
    AmendmentState,
    AmendOrderInput,
    AuthorizationOutcome,
    PlaceOrderInput,
    RevertRequest,
)
from amendments.render import console

SCHEMAS: dict[str, type[BaseModel]] = {
    "amend_order_input.json": AmendOrderInput,
    "authorization_outcome.json": AuthorizationOutcome,
    "revert_request.json": RevertRequest,
    "place_order_input.json": PlaceOrderInput,
    "amendment_result.json": AmendmentResult,
    "amendment_state.json": AmendmentState,
}
DIRECTORY = Path(__file__).resolve().parents[2] / "schemas"


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    DIRECTORY.mkdir(exist_ok=True)
    for name, model in SCHEMAS.items():
        (DIRECTORY / name).write_text(render(model), encoding="utf-8")
        console.note(f"wrote schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
