"""Monitoring: vital-sign checkpoints, their state on the clock, observation, reactions, vitals."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
import math
import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.catalogue import Catalogue
from ivig.core.library import packaged_library
from ivig.core.monitoring import (
    CheckReason,
    CheckState,
    MonitoringProtocol,
    ReactionAction,
    ReactionSeverity,
    VitalFlag,
    VitalsCheck,
    check_vitals,
    checks_due,
    classify_symptoms,
    observation_minutes,
    read_monitoring_protocol,
    recommended_action,
    vitals_schedule,
)
from ivig.core.rates import RateStep, rate_ramp, rate_steps
from ivig.errors import CatalogueError, InvalidInput, OutOfRange

LIBRARY = packaged_library()
PROTOCOL = LIBRARY.monitoring
R = CheckReason


def _steps(*bounds: float) -> tuple[RateStep, ...]:
    """Steps from minute bounds: _steps(0, 30, 90) is 0-30 and 30-90 (rates 10, 20, ...)."""
    return tuple(
        RateStep(a, b, 10.0 * (i + 1), 0.5 * (i + 1), 1.0, "protocol")
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    )


def _privigen_85kg(catalogue: Catalogue) -> tuple[RateStep, ...]:
    # README worked example: Privigen (US) CIDP schedule, 85 kg dosing weight, 85 g = 850 mL:
    # 0.5 -> 1 -> 2 -> 4 -> 8 mg/kg/min every 30 minutes, the last step 120-216.9 min.
    product = catalogue.product("privigen-us")
    schedule = product.schedule_for(catalogue.indication("lems"))
    ramp, _, _, _ = rate_ramp(
        schedule, product, catalogue.protocol, at_risk=False, lowest_start=True
    )
    return rate_steps(ramp, dose_ml=850, weight_kg=85, concentration_mg_per_ml=100)


# --- the schedule -----------------------------------------------------------------------------


def test_privigen_85_kg_schedule(catalogue: Catalogue) -> None:
    steps = _privigen_85kg(catalogue)
    assert [(s.start_min, s.end_min) for s in steps] == [
        (0, 30), (30, 60), (60, 90), (90, 120), (120, 216.9)
    ]  # fmt: skip
    # AHS (clinical-rules.md 7e): every 15 min until the maximum rate (reached at 120), a check
    # before every rate increase (item 60), hourly at the maximum (180), at the end (216.9), and
    # at the end of the 20-minute observation (SmPC, 7d): 236.9.
    schedule = vitals_schedule(steps, observation_minutes=20, protocol=PROTOCOL)
    assert [(c.minute, c.reason) for c in schedule] == [
        (0, R.baseline),
        (15, R.ramp),
        (30, R.rate_increase),
        (45, R.ramp),
        (60, R.rate_increase),
        (75, R.ramp),
        (90, R.rate_increase),
        (105, R.ramp),
        (120, R.maximum),
        (180, R.hourly),
        (216.9, R.end_of_infusion),
        (236.9, R.end_of_observation),
    ]
    # A first infusion: 60 minutes' observation (item 63), the last check at 276.9.
    assert vitals_schedule(steps, observation_minutes=60, protocol=PROTOCOL)[-1] == VitalsCheck(
        276.9, R.end_of_observation
    )


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        # 20-minute steps: the 15-minute checks and the step starts interleave.
        (
            (0, 20, 40, 100),
            [(0, R.baseline), (15, R.ramp), (20, R.rate_increase), (30, R.ramp),
             (40, R.maximum), (100, R.end_of_infusion), (120, R.end_of_observation)],
        ),
        # One step (already at the maximum): baseline, 15 minutes after the start (key point 4),
        # hourly from the start, end, observation.
        (
            (0, 150),
            [(0, R.baseline), (15, R.ramp), (60, R.hourly), (120, R.hourly),
             (150, R.end_of_infusion), (170, R.end_of_observation)],
        ),
        # The hourly check falls on the end: "end of infusion" is kept (more specific).
        (
            (0, 30, 90),
            [(0, R.baseline), (15, R.ramp), (30, R.maximum), (90, R.end_of_infusion),
             (110, R.end_of_observation)],
        ),
        # A short infusion ending before the first hourly check.
        (
            (0, 30, 60, 75.5),
            [(0, R.baseline), (15, R.ramp), (30, R.rate_increase), (45, R.ramp),
             (60, R.maximum), (75.5, R.end_of_infusion), (95.5, R.end_of_observation)],
        ),
    ],
)  # fmt: skip
def test_schedule_shapes(
    bounds: tuple[float, ...], expected: list[tuple[float, CheckReason]]
) -> None:
    schedule = vitals_schedule(_steps(*bounds), observation_minutes=20, protocol=PROTOCOL)
    assert [(c.minute, c.reason) for c in schedule] == expected


def _privigen_85kg_ramp(
    catalogue: Catalogue, *, at_risk: bool = False, dose_ml: float = 850
) -> tuple[RateStep, ...]:
    product = catalogue.product("privigen-us")
    schedule = product.schedule_for(catalogue.indication("lems"))
    ramp = rate_ramp(schedule, product, catalogue.protocol, at_risk=at_risk, lowest_start=True)
    return rate_steps(ramp[0], dose_ml=dose_ml, weight_kg=85, concentration_mg_per_ml=100)


@pytest.mark.parametrize(
    ("at_risk", "dose_ml", "words"),
    [
        # Privigen US PI, 85 kg: 8 mg/kg/min is 408 mL/h, the label maximum (README example).
        (False, 850, "at the top rate: 408 mL/h (8 mg/kg/min), the label maximum"),
        # At risk: the protocol's 3.3 mg/kg/min cap (no label number): a lower last step.
        (True, 850, "at the top rate: 168.3 mL/h (3.3 mg/kg/min), the top rate of this infusion "
                    "for a patient at risk: below the label maximum of 408 mL/h"),
        # 100 mL is given before the ramp reaches 8 mg/kg/min: its last step is 4 mg/kg/min.
        (False, 100, "at the top rate: 204 mL/h (4 mg/kg/min), the top rate of this infusion: "
                     "below the label maximum of 408 mL/h"),
    ],
)  # fmt: skip
def test_the_top_rate_checkpoint_says_which_step_it_is(
    catalogue: Catalogue, at_risk: bool, dose_ml: float, words: str
) -> None:
    # Issue 14 item 15: "at maximum rate" was said of a last step below the label maximum.
    steps = _privigen_85kg_ramp(catalogue, at_risk=at_risk, dose_ml=dose_ml)
    schedule = vitals_schedule(
        steps, observation_minutes=20, label_maximum_ml_per_h=408, protocol=PROTOCOL
    )
    [top] = [c for c in schedule if c.reason is R.maximum]
    assert top.minute == steps[-1].start_min
    assert top.text == words
    assert all(c.text == str(c.reason) for c in schedule if c is not top)
    unknown = vitals_schedule(steps, observation_minutes=20, protocol=PROTOCOL)
    assert next(c.text for c in unknown if c.reason is R.maximum).endswith(
        "the top rate of this infusion"
    )


def test_reasons_read_as_words() -> None:
    assert [str(r) for r in R] == [
        "baseline",
        "ramp",
        "before rate increase",
        "at the top rate",
        "hourly",
        "end of infusion",
        "end of observation",
    ]


@pytest.mark.parametrize(
    ("steps", "observe", "field"),
    [
        ((), 20, "steps"),
        (_steps(5, 30), 20, "steps"),  # does not start at 0
        ((*_steps(0, 30), *_steps(40, 60)[0:1]), 20, "steps"),  # a gap between steps
        ((RateStep(0, 0, 10, 1, 0, "label"),), 20, "steps"),  # ends where it starts
        (_steps(0, 30, 90), 10, "observation_minutes"),  # below the SmPC's 20 minutes
        (_steps(0, 30, 90), math.nan, "observation_minutes"),
    ],
)
def test_schedule_refuses(steps: tuple[RateStep, ...], observe: float, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        vitals_schedule(steps, observation_minutes=observe, protocol=PROTOCOL)
    assert caught.value.field == field


@st.composite
def infusions(draw: st.DrawFn) -> tuple[tuple[RateStep, ...], float]:
    ramp = draw(st.lists(st.integers(5, 60), max_size=6))
    last = round(draw(st.floats(1, 600)), 1)
    bounds = [0.0]
    for minutes in ramp:
        bounds.append(bounds[-1] + minutes)
    bounds.append(round(bounds[-1] + last, 1))
    return _steps(*bounds), draw(st.sampled_from([20, 30, 60, 90]))


@given(infusions())
def test_schedule_invariants(infusion: tuple[tuple[RateStep, ...], float]) -> None:
    steps, observe = infusion
    schedule = vitals_schedule(steps, observation_minutes=observe, protocol=PROTOCOL)
    minutes = [c.minute for c in schedule]
    end = steps[-1].end_min
    assert minutes == sorted(set(minutes))  # sorted, no two checks on one minute
    assert schedule[0] == VitalsCheck(0, R.baseline)
    assert schedule[-1] == VitalsCheck(round(end + observe, 1), R.end_of_observation)
    assert any(c.minute == end and c.reason is R.end_of_infusion for c in schedule)
    assert all(s.start_min in minutes for s in steps)  # a check before every rate increase
    top = steps[-1].start_min
    during = [m for m in minutes if m <= end]
    for a, b in itertools.pairwise(during):
        assert b - a <= (15 if b <= top else 60) + 1e-9  # never longer apart than the protocol


# --- checkpoints on the clock -----------------------------------------------------------------

START = dt.datetime(2026, 12, 1, 9, 0)


def _at(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 1, hh, mm, ss)


def _states(statuses: list[Any]) -> list[tuple[float, CheckState]]:
    return [(s.minute, s.status) for s in statuses]


def test_checks_due_on_the_ward(catalogue: Catalogue) -> None:
    # Privigen 85 kg started at 09:00; vitals recorded at 08:58, 09:16, 09:31; it is 10:10.
    schedule = vitals_schedule(_privigen_85kg(catalogue), observation_minutes=20, protocol=PROTOCOL)
    statuses = checks_due(
        schedule,
        started_at=START,
        recorded=[_at(9, 31), _at(8, 58), _at(9, 16)],  # any order
        now=_at(10, 10),
        protocol=PROTOCOL,
    )
    assert _states(statuses)[:8] == [
        (0, CheckState.done),  # 08:58, within 15 minutes of 09:00
        (15, CheckState.done),
        (30, CheckState.done),
        (45, CheckState.overdue),  # 09:45, not recorded by 10:00: late (item 61)
        (60, CheckState.due),  # 10:00, window 09:45-10:15
        (75, CheckState.due),  # 10:15, window opens at 10:00
        (90, CheckState.upcoming),  # 10:30, window opens at 10:15
        (105, CheckState.upcoming),
    ]
    assert statuses[0].recorded_at == _at(8, 58)
    assert statuses[3].due_at == _at(9, 45)
    assert statuses[3].recorded_at is None
    assert statuses[-1].due_at == START + dt.timedelta(minutes=236.9)


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (_at(9, 44, 59), CheckState.upcoming),  # 09:45 window opens at 09:45 (15 min before)
        (_at(9, 45), CheckState.due),
        (_at(10, 15), CheckState.due),  # exactly the grace window past: not yet late
        (_at(10, 15, 1), CheckState.overdue),
    ],
)
def test_checks_due_boundaries(now: dt.datetime, state: CheckState) -> None:
    schedule = [VitalsCheck(60, R.rate_increase)]  # due at 10:00
    assert (
        checks_due(schedule, started_at=START, recorded=[], now=now, protocol=PROTOCOL)[0].status
        is state
    )


def test_a_recording_does_one_check() -> None:
    # 09:22 fits both the 09:15 and the 09:30 windows; it does the earlier one only.
    schedule = [VitalsCheck(15, R.ramp), VitalsCheck(30, R.rate_increase)]
    statuses = checks_due(
        schedule, started_at=START, recorded=[_at(9, 22)], now=_at(9, 40), protocol=PROTOCOL
    )
    assert _states(statuses) == [(15, CheckState.done), (30, CheckState.due)]
    # Two recordings do both; one at the window's edge (09:45 for 09:30) counts.
    statuses = checks_due(
        schedule,
        started_at=START,
        recorded=[_at(9, 45), _at(9, 22)],
        now=_at(9, 50),
        protocol=PROTOCOL,
    )
    assert _states(statuses) == [(15, CheckState.done), (30, CheckState.done)]
    assert statuses[1].recorded_at == _at(9, 45)


def test_grace_window_is_configurable() -> None:
    schedule = [VitalsCheck(15, R.ramp)]
    late: dict[str, Any] = {"started_at": START, "recorded": [_at(9, 40)], "now": _at(9, 50)}
    assert (
        checks_due(schedule, **late, protocol=PROTOCOL)[0].status is CheckState.overdue
    )  # 25 min > 15
    assert (
        checks_due(schedule, **late, grace_minutes=30, protocol=PROTOCOL)[0].status
        is CheckState.done
    )
    # Grace 0: only a recording on the minute does it.
    assert (
        checks_due(
            schedule,
            started_at=START,
            recorded=[_at(9, 15)],
            now=_at(9, 15),
            grace_minutes=0,
            protocol=PROTOCOL,
        )[0].status
        is CheckState.done
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"grace_minutes": -1}, "grace_minutes"),
        ({"grace_minutes": math.inf}, "grace_minutes"),
        ({"now": _at(10, 0).replace(tzinfo=dt.UTC)}, "now"),
        ({"recorded": [_at(9, 0).replace(tzinfo=dt.UTC)]}, "recorded"),
        ({"recorded": [_at(9, 0), _at(9, 5).replace(tzinfo=dt.UTC)]}, "recorded"),
    ],
)
def test_checks_due_refuses(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"started_at": START, "recorded": [], "now": _at(10, 0)}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        checks_due([VitalsCheck(0, R.baseline)], **args, protocol=PROTOCOL)
    assert caught.value.field == field


def test_checks_due_with_timezones() -> None:
    start = START.replace(tzinfo=dt.UTC)
    recorded = [dt.datetime(2026, 12, 1, 10, 14, tzinfo=dt.timezone(dt.timedelta(hours=1)))]
    statuses = checks_due(
        [VitalsCheck(15, R.ramp)], started_at=start, recorded=recorded, now=start, protocol=PROTOCOL
    )
    assert statuses[0].status is CheckState.done  # 10:14 +01:00 is 09:14 UTC


# --- observation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "switch", "gap", "minutes", "reason", "verified"),
    [
        # SmPC (clinical-rules.md 7d): "Observe patients for at least 20 min after administration".
        (False, False, 28, 20, "after every infusion", True),
        (False, False, None, 20, "after every infusion", True),
        # Item 63: 60 minutes after a first infusion, a switch or a gap of more than 8 weeks
        # (core SmPC "...for the first hour after the first infusion": UNVERIFIED).
        (True, False, None, 60, "first infusion", False),
        (False, True, 21, 60, "product switch", False),
        (False, False, 56, 20, "after every infusion", True),  # exactly 8 weeks: not more
        (False, False, 57, 60, "57 days since the last infusion (more than 8 weeks)", False),
        (True, True, None, 60, "first infusion; product switch", False),
    ],
)
def test_observation_minutes(
    first: bool, switch: bool, gap: int | None, minutes: int, reason: str, verified: bool
) -> None:
    period = observation_minutes(
        first_infusion=first, product_switch=switch, gap_days=gap, protocol=PROTOCOL
    )
    assert (period.minutes, period.reason, period.verified) == (minutes, reason, verified)
    assert period.basis == "protocol"
    assert period.source


@pytest.mark.parametrize(
    ("first", "gap"),
    [(False, -1), (True, 30)],  # a first infusion has no gap
)
def test_observation_refuses(first: bool, gap: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        observation_minutes(
            first_infusion=first, product_switch=False, gap_days=gap, protocol=PROTOCOL
        )
    assert caught.value.field == "gap_days"


def test_observation_long_gap_follows_the_catalogue() -> None:
    assert PROTOCOL.long_gap_weeks == LIBRARY.protocol.long_gap_weeks


# --- reactions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "current", "tolerated", "today", "action", "restart_max", "call"),
    [
        # Mild, at step 3 (102 mL/h) after tolerating 51: pause, restart at no more than the
        # last tolerated rate (NHS Borders: pause any suspected reaction, "Finish at Last
        # Tolerated Rate"; item 62), and tell the prescriber (AHS).
        ("mild", 102, 51, 0, "pause", 51, True),
        # Mild during the first step: nothing lower was tolerated: half, rounded down to 0.1 mL/h.
        ("mild", 25.5, None, 0, "pause", 12.7, True),
        # Mild at a rate already tolerated: half of it.
        ("mild", 408, 408, 0, "pause", 204, True),
        # Moderate: stop, call the prescriber, restart at or below the last tolerated rate.
        ("moderate", 204, 102, 0, "stop", 102, True),
        ("moderate", 25.5, None, 0, "stop", 12.7, True),
        # Severe: stop, no restart today, emergency response (NHS Borders; item 62).
        ("severe", 102, 51, 0, "stop-no-restart", None, True),
        ("severe", 102, 51, 3, "stop-no-restart", None, True),
        # A second reaction the same day, however mild: stop, no restart today (item 62).
        ("mild", 102, 51, 1, "stop-no-restart", None, True),
        ("moderate", 51, 25.5, 2, "stop-no-restart", None, True),
        ("Severe", 51, 25.5, 0, "stop-no-restart", None, True),  # case does not matter
    ],
)
def test_reaction_rules(
    severity: str,
    current: float,
    tolerated: float | None,
    today: int,
    action: str,
    restart_max: float | None,
    call: bool,
) -> None:
    advice = recommended_action(
        severity,
        current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=tolerated,
        reactions_today=today,
        protocol=PROTOCOL,
    )
    assert (advice.action, advice.restart_max_ml_per_h, advice.call_prescriber) == (
        action,
        restart_max,
        call,
    )
    assert advice.basis == "protocol"
    assert advice.source
    if restart_max is not None:
        assert f"{restart_max:g} mL/h" in advice.message
    else:
        assert "do not restart it today" in advice.message
        assert "new prescriber order" in advice.message
    assert ("emergency" in advice.message) == (severity.lower() == "severe")


def test_reaction_messages_say_what_to_do() -> None:
    def message(severity: ReactionSeverity, today: int = 0) -> str:
        return recommended_action(
            severity,
            current_rate_ml_per_h=102,
            last_tolerated_ml_per_h=51,
            reactions_today=today,
            protocol=PROTOCOL,
        ).message

    assert message(ReactionSeverity.mild).startswith("Mild reaction: pause the infusion")
    assert "restart at no more than 51 mL/h" in message(ReactionSeverity.mild)
    assert "Tell the prescriber" in message(ReactionSeverity.mild)
    assert message(ReactionSeverity.moderate).startswith(
        "Moderate reaction: stop the infusion and call the prescriber"
    )
    assert message(ReactionSeverity.mild, today=1).startswith(
        "Mild reaction, reaction 2 today: stop"
    )


def test_the_shipped_reaction_protocol_is_sourced() -> None:
    advice = recommended_action(
        "severe",
        current_rate_ml_per_h=102,
        last_tolerated_ml_per_h=51,
        reactions_today=0,
        protocol=PROTOCOL,
    )
    assert "NHS Borders" in advice.source
    assert advice.verified
    advice = recommended_action(
        "mild",
        current_rate_ml_per_h=25.5,
        last_tolerated_ml_per_h=None,
        reactions_today=0,
        protocol=PROTOCOL,
    )
    # The half rate comes from a lower-reliability summary: the advice says it is unverified.
    assert "Alberta" in advice.source
    assert "monitoring.toml" in advice.source
    assert not advice.verified


def _with_reactions(**changes: Any) -> MonitoringProtocol:
    reactions = PROTOCOL.reactions
    replaced = {
        key: dataclasses.replace(getattr(reactions, key), value=value)
        for key, value in changes.items()
    }
    return dataclasses.replace(PROTOCOL, reactions=dataclasses.replace(reactions, **replaced))


def test_a_service_can_pause_every_reaction() -> None:
    # NHS Borders: "the infusion should be paused regardless of the severity".
    protocol = _with_reactions(mild=ReactionAction.pause, mild_call_prescriber=False)
    advice = recommended_action(
        ReactionSeverity.mild,
        current_rate_ml_per_h=102,
        last_tolerated_ml_per_h=51,
        reactions_today=0,
        protocol=protocol,
    )
    assert advice.action is ReactionAction.pause
    assert advice.restart_max_ml_per_h == 51
    assert not advice.call_prescriber
    assert advice.message.startswith("Mild reaction: pause the infusion")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"severity": "critical"}, "severity"),
        ({"current_rate_ml_per_h": 0}, "current_rate_ml_per_h"),
        ({"current_rate_ml_per_h": math.nan}, "current_rate_ml_per_h"),
        ({"last_tolerated_ml_per_h": -5}, "last_tolerated_ml_per_h"),
        ({"reactions_today": -1}, "reactions_today"),
        ({"reactions_today": 1.5}, "reactions_today"),
    ],
)
def test_reaction_refuses(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "severity": "mild",
        "current_rate_ml_per_h": 102,
        "last_tolerated_ml_per_h": 51,
        "reactions_today": 0,
    }
    args.update(kwargs)
    severity = args.pop("severity")
    with pytest.raises(InvalidInput) as caught:
        recommended_action(severity, **args, protocol=PROTOCOL)
    assert caught.value.field == field


@given(
    severity=st.sampled_from(ReactionSeverity),
    current=st.floats(1, 1000),
    tolerated=st.none() | st.floats(1, 1000),
    today=st.integers(0, 3),
)
def test_restart_never_above_the_last_tolerated_rate(
    severity: ReactionSeverity, current: float, tolerated: float | None, today: int
) -> None:
    advice = recommended_action(
        severity,
        current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=tolerated,
        reactions_today=today,
        protocol=PROTOCOL,
    )
    if severity is ReactionSeverity.severe or today >= 1:
        assert advice.action is ReactionAction.stop_no_restart
        assert advice.restart_max_ml_per_h is None
        return
    assert advice.restart_max_ml_per_h is not None
    assert 0 < advice.restart_max_ml_per_h < current
    if tolerated is not None:
        assert advice.restart_max_ml_per_h <= tolerated


@pytest.mark.parametrize(
    ("symptoms", "severity"),
    [
        (["headache"], ReactionSeverity.mild),
        (["nausea", "Back pain", "chills", "flushing"], ReactionSeverity.mild),
        (["headache", "fever"], ReactionSeverity.moderate),
        (["rash", "HIVES"], ReactionSeverity.moderate),
        (["flushing", "wheeze"], ReactionSeverity.severe),  # wheeze: possible bronchospasm
        (["breathing_difficulty"], ReactionSeverity.severe),
        (["chest pain"], ReactionSeverity.severe),
        (["hypotension"], ReactionSeverity.severe),
        (["swelling of face or lips"], ReactionSeverity.severe),
    ],
)
def test_classify_symptoms(symptoms: list[str], severity: ReactionSeverity) -> None:
    assert classify_symptoms(symptoms, protocol=PROTOCOL) is severity


@pytest.mark.parametrize("symptoms", [[], ["itchy elbow"], ["headache", "toothache"]])
def test_classify_symptoms_refuses(symptoms: list[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        classify_symptoms(symptoms, protocol=PROTOCOL)
    assert caught.value.field == "symptoms"


# --- vital-sign values ------------------------------------------------------------------------


def test_normal_vitals_have_no_flags() -> None:
    assert (
        check_vitals(
            temperature_c=36.8,
            pulse_per_min=72,
            systolic_mm_hg=124,
            diastolic_mm_hg=78,
            respiratory_rate_per_min=16,
            spo2_percent=98,
            protocol=PROTOCOL,
        )
        == []
    )
    assert check_vitals(spo2_percent=100, protocol=PROTOCOL) == []  # 100% is possible


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        # Item 34: impossible values are refused, naming the field.
        ({"temperature_c": 60}, "temperature_c"),
        ({"temperature_c": 24.9}, "temperature_c"),
        ({"spo2_percent": 101}, "spo2_percent"),
        ({"pulse_per_min": 400}, "pulse_per_min"),
        ({"systolic_mm_hg": 20}, "systolic_mm_hg"),
        ({"respiratory_rate_per_min": 0}, "respiratory_rate_per_min"),
        ({"systolic_mm_hg": 120, "diastolic_mm_hg": 120}, "diastolic_mm_hg"),  # diastolic >= sys
        ({"systolic_mm_hg": 100, "diastolic_mm_hg": 130}, "diastolic_mm_hg"),
        ({"pulse_per_min": math.nan}, "pulse_per_min"),
        ({}, "vitals"),
    ],
)
def test_impossible_vitals_are_refused(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_vitals(**kwargs, protocol=PROTOCOL)
    assert caught.value.field == field


def test_out_of_range_says_check_the_reading() -> None:
    with pytest.raises(OutOfRange) as caught:
        check_vitals(temperature_c=60, protocol=PROTOCOL)
    assert caught.value.message == (
        "temperature 60 °C is outside the accepted range 25-45 °C; "
        "not physiologically possible: check the reading"
    )


@pytest.mark.parametrize(
    ("kwargs", "flags"),
    [
        ({"temperature_c": 38.0}, [("temperature_c", "at or above 38 °C")]),  # fever at 38.0
        ({"temperature_c": 37.9}, []),
        ({"temperature_c": 34.9}, [("temperature_c", "below 35 °C")]),
        ({"pulse_per_min": 120}, []),
        ({"pulse_per_min": 121}, [("pulse_per_min", "above 120 /min")]),
        ({"pulse_per_min": 49}, [("pulse_per_min", "below 50 /min")]),
        ({"systolic_mm_hg": 210, "diastolic_mm_hg": 95}, [("systolic_mm_hg", "above 180")]),
        ({"systolic_mm_hg": 85, "diastolic_mm_hg": 50}, [("systolic_mm_hg", "below 90")]),
        ({"spo2_percent": 91}, [("spo2_percent", "below 92 %")]),
        ({"respiratory_rate_per_min": 25}, [("respiratory_rate_per_min", "above 24")]),
        ({"respiratory_rate_per_min": 9}, [("respiratory_rate_per_min", "below 10")]),
        (
            {"temperature_c": 38.5, "pulse_per_min": 130},
            [("temperature_c", "38.5 °C"), ("pulse_per_min", "130 /min")],
        ),
    ],
)
def test_abnormal_vitals_are_flagged(kwargs: dict[str, Any], flags: list[tuple[str, str]]) -> None:
    found = check_vitals(**kwargs, protocol=PROTOCOL)
    assert [f.field for f in found] == [field for field, _ in flags]
    for flag, (_, words) in zip(found, flags, strict=True):
        assert isinstance(flag, VitalFlag)
        assert words in flag.message
        assert flag.message.endswith("(protocol limit, unverified)")


# --- the data file ----------------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    data = resources.files("ivig").joinpath("data", "monitoring.toml").read_bytes()
    return tomllib.loads(data.decode())


def _read(data: dict[str, Any]) -> MonitoringProtocol:
    catalogue = LIBRARY.catalogue
    return read_monitoring_protocol(
        data, sources=catalogue.sources, long_gap_weeks=catalogue.protocol.long_gap_weeks
    )


def test_shipped_protocol_values() -> None:
    p = PROTOCOL
    assert (p.ramp_interval_minutes.value, p.maximum_rate_interval_minutes.value) == (15, 60)
    assert p.late_window_minutes.value == 15
    assert (p.observation_minutes.value, p.extended_observation_minutes.value) == (20, 60)
    assert p.ramp_interval_minutes.source.key == "ahs-monitoring"
    assert p.reactions.severe.value is ReactionAction.stop_no_restart
    # The values the reference notes do not confirm stay unverified.
    assert not p.extended_observation_minutes.verified
    assert not p.reactions.lower_rate_fraction.verified
    assert all(not v.possible.verified for v in p.vitals.values())


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *tables, key = path.split(".")
    target = data
    for table in tables:
        target = target[table]
    if value is None:
        del target[key]
    else:
        target[key] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("checkpoints.ramp_interval_minutes.source", "nowhere", "unknown source"),
        ("checkpoints.ramp_interval_minutes.value", 0, "positive whole number"),
        ("checkpoints.late_window_minutes.verified", None, "verified"),
        ("observation.extended_minutes.value", 10, "shorter"),
        ("reactions.severe.value", "slow", "must be one of stop-no-restart"),
        ("reactions.second_reaction.value", "pause", "must be one of"),
        ("reactions.mild.value", "ignore", "must be one of"),
        ("reactions.lower_rate_fraction.value", 1.5, "below 1"),
        ("symptoms.Headache", {"value": "mild", "source": "monitoring-protocol",
                               "verified": False}, "lowercase"),
        ("symptoms.headache.value", "awful", "must be one of"),
        ("vitals.blood_sugar", {}, "not a vital sign"),
        ("vitals.pulse_per_min", None, "is missing"),
        ("vitals.pulse_per_min.possible.value", [300, 20], "low < high"),
        ("vitals.pulse_per_min.abnormal_above.value", 350, "within the possible range"),
        ("vitals.pulse_per_min.abnormal_over", 3, "not a known key"),
        ("vitals.pulse_per_min.name", "heart rate", "defined in core/vitals.py"),
        ("checkpoints", None, "[checkpoints] is missing"),
    ],
)  # fmt: skip
def test_broken_protocol_file(path: str, value: Any, complaint: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        _read(_set(_raw(), path, value))
    assert complaint in caught.value.message


def test_reading_the_shipped_file_again_gives_the_same_protocol() -> None:
    assert _read(_raw()) == PROTOCOL
