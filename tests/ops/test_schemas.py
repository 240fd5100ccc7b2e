"""The checked-in JSON Schemas match the models; refresh with `python -m amendments.ops.schemas`."""

from __future__ import annotations

import json

import pytest

from amendments.ops.schemas import DIRECTORY, SCHEMAS, render


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_up_to_date(name: str) -> None:
    path = DIRECTORY / name
    assert path.is_file(), f"schemas/{name} is missing: run python -m amendments.ops.schemas"
    assert path.read_text(encoding="utf-8") == render(SCHEMAS[name]), (
        f"schemas/{name} is out of date: run python -m amendments.ops.schemas"
    )


def test_amend_order_input_schema_states_the_contract() -> None:
    schema = json.loads((DIRECTORY / "amend_order_input.json").read_text())
    assert set(schema["required"]) == {"order_id", "amendment_id"}
    assert schema["properties"]["top_up_timeout_seconds"]["default"] == 7 * 24 * 3600
    assert schema["additionalProperties"] is False
    new_item = schema["$defs"]["NewItem"]
    assert new_item["properties"]["gross_amount"]["type"] == "integer"
