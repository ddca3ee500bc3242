from __future__ import annotations

import math

import pytest

from gateway.errors import InputError, ParameterError
from gateway.generate import GenerationParameters


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scale", 0),
        ("scale", -0.5),
        ("scale", math.nan),
        ("scale", math.inf),
        ("scale", 10_000.0),
        ("years", 0),
        ("years", 51),
        ("seed", -1),
        ("end_month", "2026-13"),
        ("end_month", "26-10"),
        ("end_month", "2026/10"),
    ],
)
def test_bad_parameters_are_input_errors_with_one_line(field: str, value: object) -> None:
    with pytest.raises(ParameterError) as caught:
        GenerationParameters.checked(**{field: value})  # type: ignore[arg-type]
    assert isinstance(caught.value, InputError)
    assert "\n" not in str(caught.value)
    assert field.replace("_", " ") in str(caught.value)


def test_period_is_the_months_ending_with_end_month_never_today() -> None:
    p = GenerationParameters.checked(years=3, end_month="2026-10")
    assert len(p.months) == 36
    assert p.months[0] == (2023, 11)
    assert p.months[-1] == (2026, 10)
    assert p.period_start.isoformat() == "2023-11-01T00:00:00"
    assert p.period_end.isoformat() == "2026-11-01T00:00:00"
    january = GenerationParameters.checked(years=1, end_month="2025-01")
    assert january.months[0] == (2024, 2)
    assert january.period_end.isoformat() == "2025-02-01T00:00:00"


def test_info_round_trip() -> None:
    p = GenerationParameters.checked(seed=11, years=2, scale=0.1, end_month="2025-06")
    assert GenerationParameters.from_info(p.to_info()) == p
