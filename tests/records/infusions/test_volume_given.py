"""The end records the volume given (issue 16 item 4): offered from the pump log, a stop well
short of the dose confirmed with a reason, the grams given (mL x concentration) counted by
the 28-day cap, the records and the exports (CSV, FHIR); an infusion ended before the volume
was recorded counts its full dose.

The ``chair`` order: Privigen (US) 10 % (100 mg/mL), 85 g in 850 mL, 25.5 mL/h for its first
30 minutes, started at 13:00."""

from __future__ import annotations

import datetime as dt

import pytest
from at_the_chair import Chair, audit_count
from django.utils import timezone

from ivig.errors import Conflict, InvalidInput
from ivig.interop.fhir import medication_administrations
from ivig.records.models import AuditEvent, InfusionSession, Order
from ivig.records.services import courses, exchange, infusions


def _end(chair: Chair, minute: float, **options: object) -> InfusionSession:
    return infusions.end_infusion(
        chair.users["nurse"], chair.order.pk, chair.at(minute), now=chair.now, **options
    )


def test_the_end_offers_the_pump_logs_volume(chair: Chair) -> None:
    """31 minutes in at 25.5 mL/h, then 51 mL/h for a minute: 12.75 + 0.85 = 13.6 mL."""
    chair.up(30, 51)
    order = Order.objects.get(pk=chair.order.pk)
    assert infusions.pump_log_volume(order, chair.session(), chair.at(31)) == 13.6
    # never above the dose's volume, however long the log runs
    assert infusions.pump_log_volume(order, chair.session(), chair.at(60 * 24)) == 850


def test_a_stop_well_short_needs_a_confirmation_and_a_reason(chair: Chair) -> None:
    """Issue 16 item 4: ended 31 minutes in, 13.2 of 850 mL: refused without the ticked
    confirmation and a reason (nothing written); with both, the volume, the grams and the
    reason are recorded and audited."""
    before = audit_count("end")
    for options in ({}, {"short_confirmed": True}, {"short_reason": "cannula tissued"},
                    {"short_confirmed": True, "short_reason": "  "}):  # fmt: skip
        with pytest.raises(Conflict, match=r"13.2 of 850 mL given \(2 %\), well short") as caught:
            _end(chair, 31, volume_given_ml=13.2, **options)
        assert caught.value.field == "short_stop_reason"
    assert chair.session().state == "running"
    assert audit_count("end") == before
    session = _end(chair, 31, volume_given_ml=13.2, short_confirmed=True,
                   short_reason="cannula tissued")  # fmt: skip
    assert (session.volume_given_ml, session.given_g) == (13.2, 1.32)
    assert session.short_stop_reason == "cannula tissued"
    event = AuditEvent.objects.filter(action="end").latest("seq")
    assert event.reason == "stopped short of the dose: cannula tissued"
    assert event.after["given_g"] == 1.32


def test_a_full_dose_needs_no_confirmation_and_the_grams_never_exceed_it(chair: Chair) -> None:
    """90 % of the dose and more is no early stop; the grams are capped at the dose."""
    session = _end(chair, 120, volume_given_ml=850 * 1.05)
    assert session.given_g == 85
    assert session.short_stop_reason == ""


@pytest.mark.parametrize("volume", [-1, 850 * 1.1 + 1])
def test_impossible_volumes_are_refused(chair: Chair, volume: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        _end(chair, 120, volume_given_ml=volume)
    assert caught.value.field == "volume_given_ml"
    assert chair.session().ended_at is None


def test_without_a_volume_the_end_records_the_pump_logs(chair: Chair) -> None:
    """A service caller that gives no volume records the pump log's (the form's offer)."""
    session = _end(chair, 20, short_confirmed=True, short_reason="patient asked to stop")
    assert session.volume_given_ml == 8.5  # 25.5 mL/h for 20 minutes
    assert session.given_g == 0.85


def test_the_cap_the_exports_and_the_records_count_the_grams_given(chair: Chair) -> None:
    """The 28-day cap counts 1.32 g for the short day 1, not its 85 g; the CSV export and the
    FHIR MedicationAdministration say 1.32 g; a session ended before the volume was recorded
    counts its full dose."""
    _end(chair, 31, volume_given_ml=13.2, short_confirmed=True, short_reason="cannula tissued")
    order = Order.objects.get(pk=chair.order.pk)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    data = courses.CourseInput(indication="lems", phase="maintenance", product="privigen-us",
                               place="hospital", start=tomorrow, dose_g_per_kg=1, count=1,
                               every_weeks=4)  # fmt: skip
    _, regimen = courses._plan_inputs(order.patient, data, exclude_course=None)
    assert [(d.date, d.grams) for d in regimen.history] == [(order.date, 1.32)]
    rows = [r for r in exchange.infusion_rows() if r["order_id"] == str(order.pk)]
    assert (rows[0]["volume_given_ml"], rows[0]["given_g"]) == ("13.2", "1.32")
    session = InfusionSession.objects.get(order=order)
    infusion = medication_administrations(session, order.course)[0][2]
    assert infusion["dosage"]["dose"]["value"] == 1.32
    # an infusion ended before the volume was recorded (the migration's existing data)
    InfusionSession.objects.filter(pk=session.pk).update(volume_given_ml=None, given_g=None)
    _, regimen = courses._plan_inputs(order.patient, data, exclude_course=None)
    assert [d.grams for d in regimen.history] == [85]
    rows = [r for r in exchange.infusion_rows() if r["order_id"] == str(order.pk)]
    assert (rows[0]["volume_given_ml"], rows[0]["given_g"]) == ("850", "85")
