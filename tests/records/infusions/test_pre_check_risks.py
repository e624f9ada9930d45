"""The pre-infusion check screens on the day with what the record knows, as the plan does
(issue 14 items 4 and 5): the eGFR from the latest creatinine result and the BMI from the latest
weight bring in the renal and thrombosis risks."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ivig.records.services import infusions
from ivig.records.services.patients import add_weight
from ivig.records.services.renal import add_creatinine

WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)


def _codes(session: Any) -> dict[str, str]:
    return {f["code"]: f["message"] for f in session.check_findings}


def test_the_check_uses_the_latest_creatinine_and_weight(
    users: dict[str, Any], dispensed: Any, chair_now: dt.datetime, today: dt.date
) -> None:
    patient = dispensed.patient
    # 190 cm, 86.4 kg (BMI 23.9) and no creatinine: no renal or thrombosis risk on the day
    before = infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now)
    assert "renal-risk" not in _codes(before)
    # serum creatinine 2.0 mg/dL, a man of 60 or more: CKD-EPI 2021 eGFR about 38, below 60
    add_creatinine(users["nurse"], patient.pk, today, 2.0, "mg/dL", today=today)
    after = infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now)
    renal = _codes(after)["renal-risk"]
    assert re.search(r"eGFR 3\d mL/min/1.73 m2, below the threshold of 60", renal), renal
    # 110 kg at 190 cm: BMI 30.5, obesity (WHO: 30 or more), a renal and thrombosis risk
    add_weight(users["nurse"], patient.pk, today, 110, today=today)
    heavier = _codes(infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=chair_now))
    assert "obesity" in heavier["renal-risk"]
    assert "BMI 30.5" in heavier["thrombosis-risk"]
