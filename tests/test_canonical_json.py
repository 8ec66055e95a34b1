from datetime import UTC, datetime

import pytest

from evidence_store.canonical_json import CanonicalJSONError, dumps


def test_key_order_and_spacing_do_not_change_the_bytes():
    assert dumps({"b": 1, "a": [1, "é"]}) == dumps({"a": [1, "é"], "b": 1})
    assert dumps({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'


@pytest.mark.parametrize(
    "value", [datetime.now(UTC), {1: "int key"}, b"bytes", {1.5}, float("nan")]
)
def test_values_outside_plain_json_are_refused(value):
    with pytest.raises(CanonicalJSONError):
        dumps({"value": value})
