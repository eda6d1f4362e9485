"""Tests for ecosystem.calendar: months, steps and dated schedules."""

import pytest

from ecosystem.calendar import month_of_step, schedule_at, step_of_month

START = "2022-01"


def test_step_one_is_the_start_and_step_zero_the_month_before():
    assert month_of_step(START, 1) == "2022-01"
    assert month_of_step(START, 0) == "2021-12"
    assert month_of_step(START, 12) == "2022-12"
    assert month_of_step(START, 13) == "2023-01"
    assert month_of_step("2023-11", 3) == "2024-01"
    assert month_of_step("2024-03", -2) == "2023-12"


def test_step_of_month_across_year_boundaries():
    assert step_of_month(START, "2022-01") == 1
    assert step_of_month(START, "2021-12") == 0
    assert step_of_month(START, "2023-08") == 20
    assert step_of_month("2023-11", "2024-02") == 4
    assert step_of_month(START, "2020-01") == -23


@pytest.mark.parametrize("start", ["2022-01", "2023-11", "1999-12", "2030-06"])
def test_month_and_step_round_trip(start):
    for step in range(-30, 150):
        assert step_of_month(start, month_of_step(start, step)) == step
    for month in ["1998-01", "2000-12", "2022-01", "2024-02", "2031-11"]:
        assert month_of_step(start, step_of_month(start, month)) == month


def test_constant_schedule_is_the_same_at_every_step():
    for step in (-5, 0, 1, 40, 1000):
        assert schedule_at(0.25, START, step) == 0.25
    assert isinstance(schedule_at(1, START, 3), float)


def test_schedule_interpolates_linearly_between_anchors():
    # "2022-01" is step 1, "2022-11" step 11, "2023-01" step 13
    schedule = {"2022-01": 0.0, "2022-11": 0.5, "2023-01": 0.1}
    assert schedule_at(schedule, START, 1) == pytest.approx(0.0)
    assert schedule_at(schedule, START, 6) == pytest.approx(0.25)
    assert schedule_at(schedule, START, 3) == pytest.approx(0.1)
    assert schedule_at(schedule, START, 11) == pytest.approx(0.5)
    assert schedule_at(schedule, START, 12) == pytest.approx(0.3)
    assert schedule_at(schedule, START, 13) == pytest.approx(0.1)


def test_schedule_is_held_constant_beyond_its_anchors():
    schedule = {"2024-04": 0.0, "2025-03": 0.18, "2030-07": 0.5}
    first, last = step_of_month(START, "2024-04"), step_of_month(START, "2030-07")
    for step in (-10, 0, 1, first - 1, first):
        assert schedule_at(schedule, START, step) == 0.0
    for step in (last, last + 1, last + 500):
        assert schedule_at(schedule, START, step) == pytest.approx(0.5)
    # Mar 2025 is 11 months after Apr 2024: halfway is 5.5 months in
    assert schedule_at(schedule, START, first + 11) == pytest.approx(0.18)
    assert schedule_at(schedule, "2024-01", 4 + 5) == pytest.approx(0.18 * 5 / 11)


def test_unsorted_anchors_give_the_same_schedule():
    ordered = {"2022-03": 0.2, "2022-07": 0.6, "2023-01": 1.0}
    shuffled = {"2023-01": 1.0, "2022-03": 0.2, "2022-07": 0.6}
    for step in range(-2, 20):
        assert schedule_at(shuffled, START, step) == schedule_at(ordered, START, step)
    assert schedule_at(shuffled, START, 5) == pytest.approx(0.4)


def test_a_single_anchor_is_a_constant():
    assert schedule_at({"2025-05": 0.3}, START, -4) == pytest.approx(0.3)
    assert schedule_at({"2025-05": 0.3}, START, 400) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "month", ["2022-13", "2022-00", "22-01", "2022/01", "2022-1x", "", "abcd-01"]
)
def test_bad_month_strings_raise(month):
    with pytest.raises(ValueError, match="YYYY-MM"):
        step_of_month(START, month)
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_of_step(month, 1)
    with pytest.raises(ValueError, match="YYYY-MM"):
        schedule_at({month: 0.5}, START, 1)
