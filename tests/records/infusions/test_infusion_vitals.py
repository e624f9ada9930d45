"""At the chair, vital signs and clinical times (issue 5; requirements 34, 35): impossible
values refused, abnormal ones flagged, ranges from the configuration."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from typing import Any

import pytest
from at_the_chair import NORMAL, Chair

from ivig.core.library import packaged_library
from ivig.core.monitoring import check_vitals, read_monitoring_protocol
from ivig.errors import InvalidInput, InvalidTime, OutOfRange
from ivig.records.models import Vitals
from ivig.records.services import infusions


@pytest.mark.parametrize(
    ("values", "error", "field"),
    [
        ({"spo2_percent": 101}, OutOfRange, "spo2_percent"),
        ({"systolic_mm_hg": 110, "diastolic_mm_hg": 110}, InvalidInput, "diastolic_mm_hg"),
        ({"systolic_mm_hg": 110, "diastolic_mm_hg": 125}, InvalidInput, "diastolic_mm_hg"),
        ({"temperature_c": 60}, OutOfRange, "temperature_c"),
    ],
)
def test_impossible_vitals_are_refused(
    chair: Chair, values: dict[str, Any], error: type[Exception], field: str
) -> None:
    """Requirement 34: an impossible value is refused (422) naming the field; nothing saved."""
    with pytest.raises(error) as caught:
        chair.vitals(10, **values)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert caught.value.http_status == 422  # type: ignore[attr-defined]
    assert Vitals.objects.count() == 1  # the baseline before the start only


def test_abnormal_vitals_are_kept_and_flagged(chair: Chair) -> None:
    """Requirement 34: systolic 210 mm Hg is abnormal, not impossible: saved, flagged against
    monitoring.toml's limit (above 180)."""
    row = chair.vitals(10, systolic_mm_hg=210, diastolic_mm_hg=95)
    assert [f["field"] for f in row.flags] == ["systolic_mm_hg"]
    assert "above 180" in row.flags[0]["message"]


def test_vital_sign_ranges_are_configuration() -> None:
    """Requirement 34: the ranges are monitoring.toml's; a site that edits them changes the
    verdict without code."""
    with resources.files("ivig").joinpath("data", "monitoring.toml").open("rb") as f:
        data = tomllib.load(f)
    packaged = packaged_library()
    catalogue = packaged.catalogue

    def protocol() -> Any:
        return read_monitoring_protocol(
            data, sources=catalogue.sources, long_gap_weeks=catalogue.protocol.long_gap_weeks
        )

    assert [f.field for f in check_vitals(systolic_mm_hg=190, protocol=packaged.monitoring)] == [
        "systolic_mm_hg"
    ]
    data["vitals"]["systolic_mm_hg"]["abnormal_above"]["value"] = 200.0
    assert check_vitals(systolic_mm_hg=190, protocol=protocol()) == []
    with pytest.raises(OutOfRange):
        check_vitals(spo2_percent=101, protocol=packaged.monitoring)
    data["vitals"]["spo2_percent"]["possible"]["value"] = [0.0, 105.0]
    assert check_vitals(spo2_percent=101, protocol=protocol()) is not None


def test_vital_sign_times(chair: Chair) -> None:
    """Requirement 35: vital signs in the future beyond 2 minutes of skew, or before the start,
    are refused with 400; within the skew, and exactly at the start, accepted."""
    nurse, now = chair.users["nurse"], chair.now
    for wrong in (now + dt.timedelta(minutes=3), chair.start - dt.timedelta(seconds=1)):
        with pytest.raises(InvalidTime) as caught:
            infusions.record_vitals(
                nurse, chair.order.pk, wrong, infusions.VitalsInput(**NORMAL), now=now
            )
        assert caught.value.http_status == 400
    for right in (now + dt.timedelta(minutes=1), chair.start):
        infusions.record_vitals(
            nurse, chair.order.pk, right, infusions.VitalsInput(**NORMAL), now=now
        )
    assert Vitals.objects.count() == 3  # with the baseline before the start


def test_rate_times(chair: Chair) -> None:
    """Requirement 35: a rate change before the start or before the pump's last change is
    refused (400); exactly at the start is accepted."""
    with pytest.raises(InvalidTime):
        chair.rate(-1, 20)
    chair.rate(0, 20)  # exactly the start: a decrease, accepted
    chair.rate(10, 15)
    with pytest.raises(InvalidTime, match="last change"):
        chair.rate(5, 12)
