"""Monitoring an infusion: vital-sign checkpoints, observation, reactions, vital-sign checks.

Every rule here is service protocol, read from the library's ``monitoring.toml`` with its source
and a verified flag (:func:`read_monitoring_protocol`; every function takes the protocol in
service, ``Library.monitoring``):

- vital signs at baseline, every 15 minutes until the top rate is reached, before every rate
  increase, hourly at the top rate (the label maximum, or this infusion's lower last step), at
  the end of the infusion and at the end of the observation (Alberta Health Services,
  clinical-rules.md 7e; safety requirements item 60);
- a checkpoint is done when recorded within 15 minutes of its time, overdue when more than 15
  minutes past without a recording (item 61);
- observation after the infusion: 20 minutes (SmPC, clinical-rules.md 7d); 60 minutes after a
  first infusion, a product switch or a gap of more than 8 weeks (item 63; UNVERIFIED wording);
- reactions (clinical-rules.md 8; requirements A3.4, item 62): mild: slow (or pause) and continue
  at or below the last tolerated rate; moderate: stop, call the prescriber, restart at or below
  the last tolerated rate; severe, or a second reaction the same day: stop, no restart today;
- vital signs: impossible values are refused, abnormal values accepted and flagged (item 34).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from ivig.core.checks import number, whole_in_range
from ivig.core.rates import RateStep
from ivig.core.sourced import Reader, Source, Sourced
from ivig.core.units import floor_to
from ivig.core.vitals import VITAL_FIELDS, vital
from ivig.errors import CatalogueError, InvalidInput, OutOfRange

__all__ = [
    "CheckReason",
    "CheckState",
    "CheckStatus",
    "MonitoringProtocol",
    "ObservationPeriod",
    "ReactionAction",
    "ReactionAdvice",
    "ReactionProtocol",
    "ReactionSeverity",
    "VitalFlag",
    "VitalLimit",
    "VitalRange",
    "VitalsCheck",
    "check_vitals",
    "checks_due",
    "classify_symptoms",
    "observation_close_at",
    "observation_minutes",
    "read_monitoring_protocol",
    "recommended_action",
    "vitals_schedule",
]

_TOLERANCE = 1e-9
# Bounds on plausible input (and on the work): beyond them a value is refused.
MAX_INFUSION_MINUTES = 7 * 24 * 60
MAX_OBSERVATION_MINUTES = 24 * 60
MAX_GRACE_MINUTES = 24 * 60
MAX_GAP_DAYS = 100 * 366
MAX_REACTIONS_TODAY = 1000
_RELATIONS = {
    "abnormal_below": "below",
    "abnormal_at_or_below": "at or below",
    "abnormal_above": "above",
    "abnormal_at_or_above": "at or above",
}


class ReactionSeverity(StrEnum):
    """The severity of an infusion reaction (not a screening finding's: ``FindingSeverity``)."""

    mild = "mild"
    moderate = "moderate"
    severe = "severe"


_SEVERITY_RANK = {
    ReactionSeverity.mild: 0,
    ReactionSeverity.moderate: 1,
    ReactionSeverity.severe: 2,
}


class CheckReason(StrEnum):
    """Why a vital-sign checkpoint is there."""

    baseline = "baseline"
    ramp = "ramp"
    rate_increase = "before rate increase"
    maximum = "at the top rate"  # the last step: the label maximum, or below it (see detail)
    hourly = "hourly"
    end_of_infusion = "end of infusion"
    end_of_observation = "end of observation"


# When two checkpoints fall on the same minute, the first of these is kept (the most specific).
_REASON_PRIORITY = {
    reason: i
    for i, reason in enumerate(
        (
            CheckReason.baseline,
            CheckReason.end_of_observation,
            CheckReason.end_of_infusion,
            CheckReason.maximum,
            CheckReason.rate_increase,
            CheckReason.hourly,
            CheckReason.ramp,
        )
    )
}


class CheckState(StrEnum):
    """Where a checkpoint stands at a moment."""

    done = "done"
    due = "due"
    overdue = "overdue"
    upcoming = "upcoming"


class ReactionAction(StrEnum):
    """What the nurse does about a reaction.

    ``slow``: continue at a lower rate. ``pause``: stop the pump; restart when the symptoms
    resolve. ``stop``: stop; restart only when the symptoms resolve and the prescriber agrees.
    ``stop-no-restart``: stop; no restart today without a new prescriber order.
    """

    slow = "slow"
    pause = "pause"
    stop = "stop"
    stop_no_restart = "stop-no-restart"


# The actions each protocol entry may take: severe and second reactions always stop for the day.
_ALLOWED_ACTIONS = {
    "mild": (ReactionAction.slow, ReactionAction.pause, ReactionAction.stop),
    "moderate": (ReactionAction.pause, ReactionAction.stop, ReactionAction.stop_no_restart),
    "severe": (ReactionAction.stop_no_restart,),
    "second_reaction": (ReactionAction.stop_no_restart,),
}


# --- the protocol -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VitalLimit:
    """An abnormal limit: a value ``relation`` (below, at or above, ...) ``limit`` is flagged."""

    relation: str
    limit: Sourced[float]

    def crossed(self, value: float) -> bool:
        limit = self.limit.value
        if self.relation == "below":
            return value < limit
        if self.relation == "at or below":
            return value <= limit
        if self.relation == "above":
            return value > limit
        return value >= limit  # "at or above"


@dataclass(frozen=True, slots=True)
class VitalRange:
    """One vital sign: the range outside which a value is impossible, and its abnormal limits."""

    field: str
    name: str
    unit: str
    possible: Sourced[tuple[float, float]]
    abnormal: tuple[VitalLimit, ...]


@dataclass(frozen=True, slots=True)
class ReactionProtocol:
    """What to do about a reaction, by severity (``monitoring.toml`` ``[reactions]``)."""

    mild: Sourced[ReactionAction]
    moderate: Sourced[ReactionAction]
    severe: Sourced[ReactionAction]
    second_reaction: Sourced[ReactionAction]
    restart_at_most: Sourced[str]
    mild_call_prescriber: Sourced[bool]
    lower_rate_fraction: Sourced[float]


@dataclass(frozen=True, slots=True)
class MonitoringProtocol:
    """The service protocol for monitoring an infusion.

    ``long_gap_weeks`` is the catalogue's (``protocol.toml``), so screening and observation agree.
    """

    ramp_interval_minutes: Sourced[int]
    maximum_rate_interval_minutes: Sourced[int]
    late_window_minutes: Sourced[int]
    observation_minutes: Sourced[int]
    extended_observation_minutes: Sourced[int]
    long_gap_weeks: Sourced[int]
    reactions: ReactionProtocol
    symptoms: Mapping[str, Sourced[ReactionSeverity]]
    vitals: Mapping[str, VitalRange]


def _read_vital(vitals: Reader, field: str) -> VitalRange:
    """The ranges of one vital sign; its name and unit are its definition's (core.vitals)."""
    entry = vitals.table.get(field)
    if not isinstance(entry, dict):
        raise vitals.fail(field, "is missing")
    inner = Reader(entry, f"monitoring.toml [vitals.{field}]", vitals.sources)
    possible = inner.required("possible")
    v = possible.value
    if not (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        and v[0] < v[1]
    ):
        raise inner.fail("possible", "value must be [low, high] with low < high")
    low, high = float(v[0]), float(v[1])
    limits = []
    for key, relation in _RELATIONS.items():
        if key in entry:
            limit = inner.required_sourced_number(key)
            if not low <= limit.value <= high:
                raise inner.fail(key, f"must lie within the possible range {low:g}-{high:g}")
            limits.append(VitalLimit(relation, limit))
    unknown = set(entry) - {"possible", *_RELATIONS}
    if unknown:
        key = sorted(unknown)[0]
        own = key in ("name", "unit")  # the sign's own words: its definition's (core/vitals.py)
        raise inner.fail(key, "is defined in core/vitals.py" if own else "is not a known key")
    sign = vital(field)
    return VitalRange(
        field=field,
        name=sign.name,
        unit=sign.unit,
        possible=Sourced((low, high), possible.source, possible.verified, possible.note),
        abnormal=tuple(limits),
    )


def read_monitoring_protocol(
    data: Mapping[str, Any], *, sources: Mapping[str, Source], long_gap_weeks: Sourced[int]
) -> MonitoringProtocol:
    """Check the parsed ``monitoring.toml`` and build the protocol; raise CatalogueError."""

    def table(key: str) -> Reader:
        return Reader.of(data, key, "monitoring.toml", sources)

    checkpoints = table("checkpoints")
    observation = table("observation")
    default = observation.sourced_int("default_minutes")
    extended = observation.sourced_int("extended_minutes")
    if extended.value < default.value:
        raise observation.fail("extended_minutes", "must not be shorter than default_minutes")

    r = table("reactions")

    def action(key: str) -> Sourced[ReactionAction]:
        s = r.sourced_choice(key, [str(a) for a in _ALLOWED_ACTIONS[key]])
        return Sourced(ReactionAction(s.value), s.source, s.verified, s.note)

    fraction = r.required_sourced_number("lower_rate_fraction")
    if fraction.value >= 1:
        raise r.fail("lower_rate_fraction", "value must be below 1")
    reactions = ReactionProtocol(
        mild=action("mild"),
        moderate=action("moderate"),
        severe=action("severe"),
        second_reaction=action("second_reaction"),
        restart_at_most=r.sourced_choice("restart_at_most", ["last tolerated rate"]),
        mild_call_prescriber=r.sourced_flag("mild_call_prescriber"),
        lower_rate_fraction=fraction,
    )

    s = table("symptoms")
    symptoms: dict[str, Sourced[ReactionSeverity]] = {}
    for name in s.table:
        if name != _symptom_key(name):
            raise s.fail(name, "must be lowercase words joined by hyphens")
        entry = s.sourced_choice(name, [str(v) for v in ReactionSeverity])
        symptoms[name] = Sourced(
            ReactionSeverity(entry.value), entry.source, entry.verified, entry.note
        )
    if not symptoms:
        raise CatalogueError(
            "catalogue monitoring.toml: [symptoms] lists no symptom", field="symptoms"
        )

    v = table("vitals")
    unknown = set(v.table) - set(VITAL_FIELDS)
    if unknown:
        raise v.fail(sorted(unknown)[0], f"is not a vital sign ({', '.join(VITAL_FIELDS)})")
    vitals = {field: _read_vital(v, field) for field in VITAL_FIELDS}

    return MonitoringProtocol(
        ramp_interval_minutes=checkpoints.sourced_int("ramp_interval_minutes"),
        maximum_rate_interval_minutes=checkpoints.sourced_int("maximum_rate_interval_minutes"),
        late_window_minutes=checkpoints.sourced_int("late_window_minutes"),
        observation_minutes=default,
        extended_observation_minutes=extended,
        long_gap_weeks=long_gap_weeks,
        reactions=reactions,
        symptoms=symptoms,
        vitals=vitals,
    )


def _finite(value: float, field: str, what: str) -> float:
    return number(value, field=field, what=what)


def _cite(*sourced: Sourced[Any]) -> str:
    """The sources of some values, each once, in order."""
    return "; ".join(dict.fromkeys(s.source.cite() for s in sourced))


# --- vital-sign checkpoints -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VitalsCheck:
    """A vital-sign checkpoint, ``minute`` minutes after the infusion starts."""

    minute: float
    reason: CheckReason
    detail: str = ""  # the top-rate checkpoint: its rate, and whether it is the label maximum

    @property
    def text(self) -> str:
        """The checkpoint in words: its reason, and its detail where it has one."""
        return f"{self.reason}: {self.detail}" if self.detail else str(self.reason)


def _top_rate(step: RateStep, label_maximum_ml_per_h: float | None) -> str:
    """The top step's words (issue 14 item 15): the last step is the label maximum only when it
    reaches it; below it (an at-risk cap, or a dose given before the ramp reaches the maximum)
    it is this infusion's top rate, and says so."""
    rate = f"{step.rate_ml_per_h:g} mL/h ({step.rate_mg_per_kg_per_min:g} mg/kg/min)"
    if label_maximum_ml_per_h is None:
        return f"{rate}, the top rate of this infusion"
    if step.rate_ml_per_h >= label_maximum_ml_per_h - 0.05:  # pump rates are to 0.1 mL/h
        return f"{rate}, the label maximum"
    why = " for a patient at risk" if step.basis.startswith("at-risk cap") else ""
    return (
        f"{rate}, the top rate of this infusion{why}: below the label maximum of "
        f"{label_maximum_ml_per_h:g} mL/h"
    )


def _check_steps(steps: Sequence[RateStep]) -> None:
    if not steps:
        raise InvalidInput("the infusion has no rate steps", field="steps")
    if abs(steps[0].start_min) > _TOLERANCE:
        raise InvalidInput("the first rate step must start at minute 0", field="steps")
    for i, step in enumerate(steps):
        if not (math.isfinite(step.start_min) and math.isfinite(step.end_min)):
            raise InvalidInput(f"rate step {i + 1} has no finite times", field="steps")
        if step.end_min > MAX_INFUSION_MINUTES:
            raise InvalidInput(
                f"rate step {i + 1} ends after {MAX_INFUSION_MINUTES} minutes", field="steps"
            )
        if step.end_min <= step.start_min:
            raise InvalidInput(f"rate step {i + 1} ends before it starts", field="steps")
        if i and abs(step.start_min - steps[i - 1].end_min) > _TOLERANCE:
            raise InvalidInput(
                f"rate step {i + 1} does not start where step {i} ends", field="steps"
            )


def vitals_schedule(
    steps: Sequence[RateStep],
    *,
    observation_minutes: float,
    protocol: MonitoringProtocol,
    label_maximum_ml_per_h: float | None = None,
) -> list[VitalsCheck]:
    """The vital-sign checkpoints of one infusion, in minutes from its start.

    Baseline at minute 0; every 15 minutes until the maximum rate is reached (the start of the
    last step) and before every rate increase (each step's start); hourly after reaching the
    maximum rate; at the end of the infusion; at the end of the observation. Source: Alberta
    Health Services protocol ("every 15 minutes until the maximum infusion rate is reached...
    hourly after reaching the maximum infusion rate and at the completion of the infusion",
    clinical-rules.md 7e) and safety requirement 60. The 15 minutes after the start are always
    checked (requirements, key point 4). Checks on the same minute (to 0.1) are merged, keeping
    the most specific reason. ``observation_minutes`` below the protocol's minimum is refused.
    The top-rate checkpoint says its rate and, given ``label_maximum_ml_per_h``, whether it is
    the label maximum or below it (never "maximum" for a lower last step).
    """
    _check_steps(steps)
    observe = _finite(observation_minutes, "observation_minutes", "the observation time")
    minimum = protocol.observation_minutes
    if observe > MAX_OBSERVATION_MINUTES:
        raise InvalidInput(
            f"the observation after the infusion lasts at most {MAX_OBSERVATION_MINUTES} "
            f"minutes (got {observe:g})",
            field="observation_minutes",
        )
    if observe < minimum.value:
        raise InvalidInput(
            f"the observation after the infusion must last at least {minimum.value} minutes "
            f"(got {observe:g}; {minimum.source.title})",
            field="observation_minutes",
        )
    every = protocol.ramp_interval_minutes.value
    hourly = protocol.maximum_rate_interval_minutes.value
    top, end = steps[-1].start_min, steps[-1].end_min

    found: dict[float, CheckReason] = {}

    def add(minute: float, reason: CheckReason) -> None:
        key = round(minute, 1) + 0.0  # + 0.0: no -0.0
        old = found.get(key)
        if old is None or _REASON_PRIORITY[reason] < _REASON_PRIORITY[old]:
            found[key] = reason

    add(0.0, CheckReason.baseline)
    if every < end - _TOLERANCE:
        add(every, CheckReason.ramp)
    k = 1
    while k * every < top - _TOLERANCE:
        add(k * every, CheckReason.ramp)
        k += 1
    for step in steps[1:]:
        add(step.start_min, CheckReason.rate_increase)
    add(top, CheckReason.maximum)
    k = 1
    while top + k * hourly < end - _TOLERANCE:
        add(top + k * hourly, CheckReason.hourly)
        k += 1
    add(end, CheckReason.end_of_infusion)
    add(end + observe, CheckReason.end_of_observation)
    top_words = _top_rate(steps[-1], label_maximum_ml_per_h)
    return [
        VitalsCheck(minute, reason, top_words if reason is CheckReason.maximum else "")
        for minute, reason in sorted(found.items())
    ]


@dataclass(frozen=True, slots=True)
class CheckStatus:
    """A checkpoint on the clock: when it is due, its state, and the recording that did it."""

    check: VitalsCheck
    due_at: dt.datetime
    status: CheckState
    recorded_at: dt.datetime | None = None

    @property
    def minute(self) -> float:
        return self.check.minute

    @property
    def reason(self) -> CheckReason:
        return self.check.reason


def checks_due(
    schedule: Iterable[VitalsCheck],
    *,
    started_at: dt.datetime,
    recorded: Iterable[dt.datetime],
    now: dt.datetime,
    grace_minutes: float | None = None,
    protocol: MonitoringProtocol,
) -> list[CheckStatus]:
    """Each checkpoint's clock time and state at ``now``, for an infusion started at ``started_at``.

    ``done``: a vital-sign recording lies within ``grace_minutes`` either side of the checkpoint
    (each recording does one checkpoint: the earliest open one it fits, which does as many
    checkpoints as possible); ``due``: not done, and ``now`` is within the grace window;
    ``overdue``: not done and more than the grace window past (late, item 61); ``upcoming``: not
    yet in its window. Grace default: 15 minutes (item 61, ``late_window_minutes``). All times
    must be all timezone-aware or all naive.
    """
    if grace_minutes is None:
        grace = float(protocol.late_window_minutes.value)
    else:
        grace = _finite(grace_minutes, "grace_minutes", "the grace window")
        if not 0 <= grace <= MAX_GRACE_MINUTES:
            raise InvalidInput(
                f"the grace window is 0 to {MAX_GRACE_MINUTES} minutes (got {grace:g})",
                field="grace_minutes",
            )
    given = list(recorded)
    aware = started_at.utcoffset() is not None
    for name, moment in (("now", now), *(("recorded", t) for t in given)):
        if (moment.utcoffset() is not None) != aware:
            raise InvalidInput(
                "the start, now and recorded times must all carry a timezone or none",
                field=name,
            )
    times = sorted(given)
    window = dt.timedelta(minutes=grace)
    checks = sorted(schedule, key=lambda c: c.minute)
    for check in checks:
        if not (math.isfinite(check.minute) and 0 <= check.minute <= 2 * MAX_INFUSION_MINUTES):
            raise InvalidInput(
                f"a checkpoint at minute {check.minute:g} is not in an infusion", field="schedule"
            )
    try:
        started_at - window - dt.timedelta(days=1)
        started_at + dt.timedelta(minutes=2 * MAX_INFUSION_MINUTES) + window
    except OverflowError:
        raise InvalidInput(
            f"an infusion started at {started_at.isoformat()} would run outside the calendar",
            field="started_at",
        ) from None
    used = [False] * len(times)
    out = []
    for check in checks:
        due_at = started_at + dt.timedelta(minutes=check.minute)
        match = None
        for i, moment in enumerate(times):
            if used[i] or moment < due_at - window:
                continue
            if moment <= due_at + window:
                match = i
            break
        if match is not None:
            used[match] = True
            out.append(CheckStatus(check, due_at, CheckState.done, times[match]))
        elif now > due_at + window:
            out.append(CheckStatus(check, due_at, CheckState.overdue))
        elif now >= due_at - window:
            out.append(CheckStatus(check, due_at, CheckState.due))
        else:
            out.append(CheckStatus(check, due_at, CheckState.upcoming))
    return out


# --- observation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObservationPeriod:
    """How long to observe the patient after the infusion, why, and the source."""

    minutes: int
    reason: str
    source: str
    verified: bool
    basis: str = "protocol"


def observation_minutes(
    *,
    first_infusion: bool,
    product_switch: bool,
    gap_days: int | None,
    protocol: MonitoringProtocol,
) -> ObservationPeriod:
    """The observation after the infusion: 20 minutes, or 60 after a first infusion, a product
    switch, or a gap of more than 8 weeks since the last infusion.

    Sources: SmPC "Observe patients for at least 20 min after administration" (clinical-rules.md
    7d); the 60 minutes (core SmPC "...for the first hour after the first infusion") is
    UNVERIFIED; item 63 extends it to switches and long gaps. ``gap_days``: days since the last
    infusion, ``None`` when there is none (a first infusion has no gap).
    """
    if gap_days is not None:
        whole_in_range(
            gap_days, (0, MAX_GAP_DAYS), field="gap_days", what="the days since the last infusion",
            unit="days",
        )  # fmt: skip
        if first_infusion:
            raise InvalidInput(
                "a first infusion has no earlier infusion, so no gap since one", field="gap_days"
            )
    reasons = []
    used: list[Sourced[Any]] = []
    if first_infusion:
        reasons.append("first infusion")
    if product_switch:
        reasons.append("product switch")
    weeks = protocol.long_gap_weeks
    if gap_days is not None and gap_days > weeks.value * 7:
        reasons.append(f"{gap_days} days since the last infusion (more than {weeks.value} weeks)")
        used.append(weeks)
    chosen = protocol.extended_observation_minutes if reasons else protocol.observation_minutes
    used.insert(0, chosen)
    reason = "; ".join(reasons) if reasons else "after every infusion"
    return ObservationPeriod(
        minutes=chosen.value,
        reason=reason,
        source=_cite(*used),
        verified=all(s.verified for s in used),
    )


# --- reactions --------------------------------------------------------------------------------


def _symptom_key(symptom: str) -> str:
    return "-".join(symptom.strip().lower().replace("_", " ").replace("-", " ").split())


def classify_symptoms(symptoms: Iterable[str], *, protocol: MonitoringProtocol) -> ReactionSeverity:
    """The highest default severity among the symptoms (``[symptoms]`` in monitoring.toml).

    Names are matched ignoring case, spaces, hyphens and underscores ("Back pain" is
    ``back-pain``). The grading is local protocol; the nurse may grade higher.
    """
    given = [_symptom_key(s) for s in symptoms]
    if not given:
        raise InvalidInput("name at least one symptom", field="symptoms")
    unknown = [s for s in given if s not in protocol.symptoms]
    if unknown:
        raise InvalidInput(
            f"unknown symptom {', '.join(repr(u) for u in unknown)}; known symptoms: "
            f"{', '.join(protocol.symptoms)}; grade any other reaction as mild, moderate or severe",
            field="symptoms",
        )
    return max((protocol.symptoms[s].value for s in given), key=_SEVERITY_RANK.__getitem__)


@dataclass(frozen=True, slots=True)
class ReactionAdvice:
    """What to do about a reaction, in plain words, with its source (always protocol)."""

    action: ReactionAction
    message: str
    restart_max_ml_per_h: float | None
    call_prescriber: bool
    basis: str
    source: str
    verified: bool


# A pump rate outside this range is a typing error, not a rate (plausibility bounds against
# runaway arithmetic, as core/checks.py; volumetric pumps run at 0.1 mL/h steps).
PUMP_RATE_ML_PER_H = (0.1, 10_000.0)


def _rate(value: float, field: str) -> float:
    rate = _finite(value, field, "a rate")
    low, high = PUMP_RATE_ML_PER_H
    if not low <= rate <= high:
        raise InvalidInput(
            f"a rate must be from {low:g} to {high:,.0f} mL/h (got {rate:g})", field=field
        )
    return rate


def recommended_action(
    severity: ReactionSeverity | str,
    *,
    current_rate_ml_per_h: float,
    last_tolerated_ml_per_h: float | None,
    reactions_today: int,
    protocol: MonitoringProtocol,
) -> ReactionAdvice:
    """What to do about a reaction during an infusion (service protocol, ``[reactions]``).

    - mild (headache, nausea, back pain, flushing, chills...): slow to the last tolerated rate,
      or to half the current rate when no lower rate was tolerated, and continue at no more than
      that (AHS "Slow infusion until symptoms resolve OR stop infusion; contact provider"; SmPC
      "Stop infusion or reduce administration rate"; Geneva Woods "reduce to the previous rate");
    - moderate: stop, call the prescriber; restart when resolved at or below the last tolerated
      rate (NHS Borders "Finish at Last Tolerated Rate"; item 62);
    - severe (anaphylaxis, breathing difficulty, chest pain, hypotension), or any reaction when
      ``reactions_today`` (the reactions EARLIER today, not counting this one) is 1 or more:
      stop, no restart today without a new order; emergency response and prescriber (NHS
      Borders: "STOP INFUSION - DO NOT RESTART"; item 62).

    ``last_tolerated_ml_per_h``: the highest rate given without a reaction (usually the previous
    step's), ``None`` when the reaction came during the first step.
    """
    p = protocol.reactions
    try:
        grade = ReactionSeverity(
            severity.strip().lower() if isinstance(severity, str) else severity
        )
    except ValueError:
        raise InvalidInput(
            f"unknown reaction severity {severity!r}; use mild, moderate or severe",
            field="severity",
        ) from None
    current = _rate(current_rate_ml_per_h, "current_rate_ml_per_h")
    tolerated = (
        None
        if last_tolerated_ml_per_h is None
        else _rate(last_tolerated_ml_per_h, "last_tolerated_ml_per_h")
    )
    whole_in_range(
        reactions_today, (0, MAX_REACTIONS_TODAY), field="reactions_today",
        what="the reactions earlier today",
    )  # fmt: skip

    second = reactions_today >= 1 and grade is not ReactionSeverity.severe
    if grade is ReactionSeverity.severe:
        chosen = p.severe
    elif second:
        chosen = p.second_reaction
    else:
        chosen = p.mild if grade is ReactionSeverity.mild else p.moderate
    action = chosen.value
    used: list[Sourced[Any]] = [chosen]
    heading = f"{grade.value.capitalize()} reaction"
    if second:
        heading += f", reaction {reactions_today + 1} today"

    if action is ReactionAction.stop_no_restart:
        emergency = (
            " Call the emergency response team and the prescriber, and treat the reaction under "
            "the hypersensitivity (anaphylaxis) protocol."
            if grade is ReactionSeverity.severe
            else " Call the prescriber."
        )
        return ReactionAdvice(
            action=action,
            message=f"{heading}: stop the infusion now and do not restart it today.{emergency}"
            " A restart needs a new prescriber order.",
            restart_max_ml_per_h=None,
            call_prescriber=True,
            basis="protocol",
            source=_cite(*used),
            verified=all(s.verified for s in used),
        )

    used.append(p.restart_at_most)
    if tolerated is not None and tolerated < current - _TOLERANCE:
        lower, how = tolerated, "the last tolerated rate"
    else:
        fraction = p.lower_rate_fraction
        raw = current * fraction.value
        lower = floor_to(raw) if raw >= 0.1 else raw
        how = f"{fraction.value:.0%} of the current rate: no lower rate has been tolerated"
        used.append(fraction)
    rate = f"{lower:g} mL/h ({how})"
    if action is ReactionAction.stop or grade is not ReactionSeverity.mild:
        call = True
    else:
        call = p.mild_call_prescriber.value
        used.append(p.mild_call_prescriber)
    tell = " Tell the prescriber." if call else ""
    if action is ReactionAction.slow:
        message = (
            f"{heading}: slow the infusion to {rate} and stay with the patient until the symptoms "
            f"resolve; then continue at no more than {lower:g} mL/h.{tell}"
        )
    elif action is ReactionAction.pause:
        message = (
            f"{heading}: pause the infusion and stay with the patient. When the symptoms have "
            f"resolved, restart at no more than {rate}.{tell}"
        )
    else:
        message = (
            f"{heading}: stop the infusion and call the prescriber. Restart only when the "
            f"symptoms have resolved and the prescriber agrees, at no more than {rate}."
        )
    return ReactionAdvice(
        action=action,
        message=message,
        restart_max_ml_per_h=lower,
        call_prescriber=call,
        basis="protocol",
        source=_cite(*used),
        verified=all(s.verified for s in used),
    )


# --- vital-sign values ------------------------------------------------------------------------


class VitalFlag(NamedTuple):
    """An abnormal (but possible) vital sign: the field and a message for the nurse."""

    field: str
    message: str


def check_vitals(*, protocol: MonitoringProtocol, **values: float | None) -> list[VitalFlag]:
    """Check one set of vital signs, each by its field (``core.vitals.VITAL_FIELDS``, ``None``:
    not taken): refuse the impossible, flag the abnormal (item 34).

    A value outside its possible range (e.g. temperature below 25 or above 45 °C, SpO2 above
    100%), or a diastolic at or above the systolic, raises :class:`OutOfRange` /
    :class:`InvalidInput` naming the field. A possible but abnormal value (e.g. temperature 38.0
    °C or more, pulse above 120) is accepted and returned as a flag. The ranges are protocol, in
    ``[vitals]`` of monitoring.toml, without a clinical source (unverified).
    """
    for field in values:
        if field not in protocol.vitals:
            raise TypeError(f"check_vitals() got an unexpected keyword argument {field!r}")
    given = {f: v for f in protocol.vitals if (v := values.get(f)) is not None}  # in order
    if not given:
        raise InvalidInput("no vital sign was given", field="vitals")
    checked: dict[str, float] = {}
    for field, raw in given.items():
        vital = protocol.vitals[field]
        value = _finite(raw, field, vital.name)
        low, high = vital.possible.value
        if not low <= value <= high:
            raise OutOfRange(field, value, low, high, vital.unit, what=vital.name).with_hint(
                "not physiologically possible: check the reading"
            )
        checked[field] = value
    systolic, diastolic = checked.get("systolic_mm_hg"), checked.get("diastolic_mm_hg")
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        raise InvalidInput(
            f"diastolic blood pressure {diastolic:g} mm Hg is not below the systolic "
            f"{systolic:g} mm Hg: check the reading",
            field="diastolic_mm_hg",
        )
    flags = []
    for field, value in checked.items():
        vital = protocol.vitals[field]
        for limit in vital.abnormal:
            if limit.crossed(value):
                caveat = "" if limit.limit.verified else " (protocol limit, unverified)"
                flags.append(
                    VitalFlag(
                        field,
                        f"{vital.name} {value:g} {vital.unit}: {limit.relation} "
                        f"{limit.limit.value:g} {vital.unit}{caveat}",
                    )
                )
    return flags


def observation_close_at(ended_at: dt.datetime, minutes: float) -> dt.datetime:
    """When the observation after an infusion may close: ``minutes`` after ``ended_at``, rounded
    up to the whole minute (issue 16 item 18). A nurse reads and enters clock times to the
    minute, so the minute shown is never earlier than allowed and an entry at that minute is
    accepted. The observation time itself: SmPC, clinical-rules.md 7d (:func:`observation_minutes`).
    """
    observe = _finite(minutes, "observation_minutes", "the observation time")
    due = ended_at + dt.timedelta(minutes=observe)
    whole = due.replace(second=0, microsecond=0)
    return whole if whole == due else whole + dt.timedelta(minutes=1)
