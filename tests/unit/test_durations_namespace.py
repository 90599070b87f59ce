"""Pure parsing rules: durations, Young/Daly, variable selection, name lists."""

from __future__ import annotations

import os

import pytest

from ipyckpt.durations import format_duration, parse_duration, young_daly_interval
from ipyckpt.namespace import parse_name_list, select_names


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("30s", 30),
        ("10m", 600),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172800),
        (" 1.5H ", 5400),
        ("1d2h3m4s", 93784),
        ("0.2s", 0.2),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "0", "-5", "5x", "1m1h", "1h1h", "h", "1h 30m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*1h30m"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("45s", "10m", "1h30m", "2d3h"):
        assert format_duration(parse_duration(text)) == text
    assert format_duration(0.25) == "0.25s"


def test_young_daly_is_clamped() -> None:
    assert young_daly_interval(1.0, 86400) == pytest.approx((2 * 86400) ** 0.5)
    assert young_daly_interval(0.001) == 60
    assert young_daly_interval(1000.0) == 7200


def test_default_selection_is_the_users_variables() -> None:
    hidden_value = object()
    ns = {
        "In": [],
        "Out": {},
        "_": 1,
        "_i3": "x",
        "_7": 2,
        "__builtins__": {},
        "get_ipython": print,
        "os": os,
        "hidden": hidden_value,
        "rebound": 5,
        "model": 1,
        "data": [1],
        "_private": 3,
    }
    sel = select_names(ns, hidden={"hidden": hidden_value, "rebound": 4}, exclude=["data"])
    assert sel.names == ("_private", "model", "os", "rebound"), "modules are saved (by reference)"


def test_explicit_selection_reports_missing_names() -> None:
    sel = select_names({"a": 1, "os": os}, include=["a", "os", "b"])
    assert sel.names == ("a", "os")
    assert sel.excluded == {"b": "not defined"}


def test_parse_name_list() -> None:
    assert parse_name_list("a,b c") == ("a", "b", "c")
    with pytest.raises(ValueError, match="'1x'"):
        parse_name_list("a,1x")
    with pytest.raises(ValueError, match="'class'"):
        parse_name_list("class")
