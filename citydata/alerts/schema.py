"""The JSON schema of a rule as it is written (durations as text or seconds, one name or a
list), for the API's documentation of the bodies it takes."""

from __future__ import annotations

from typing import Any, get_args

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from citydata.alerts.rules import Duration, Names, Rule

_DURATION_CHECK = get_args(Duration)[1].func
_NAMES_CHECK = get_args(Names)[1].func
DURATION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*(0|([0-9]+(\.[0-9]+)?[smhdwSMHDW])+)\s*$",
    "description": "a duration: a number and a unit s, m, h, d or w (30m, 1h30m), or seconds",
}


class _RuleInputSchema(GenerateJsonSchema):
    """A rule as it is sent: durations as text or seconds, one name or a list where either
    is read."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        check = schema["function"]["function"]
        inner = super().function_before_schema(schema)
        if check is _DURATION_CHECK:
            return {"anyOf": [DURATION_SCHEMA, {"type": "number", "minimum": 0}]}
        if check is _NAMES_CHECK:
            return {"anyOf": [{"type": "string"}, inner]}
        return inner


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every `#/$defs/...` reference replaced by its definition (OpenAPI would
    look for them at the document's root)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def rule_input_schema() -> dict[str, Any]:
    """The JSON schema of a rule as POST and PUT take it."""
    schema = Rule.model_json_schema(by_alias=True, schema_generator=_RuleInputSchema)
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined
