"""The API's course preview and prescription (issue 15): each plans the course once and turns
the plan into JSON once; the preview answers the JSON the prescription stores."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Course

START = timezone.localdate() + dt.timedelta(days=5)  # from the suite's date
BODY = {"indication": "lems", "phase": "induction", "product": "privigen-us",
        "place": "hospital", "start": START.isoformat(), "days": 2}  # fmt: skip


def _post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_a_preview_and_a_prescription_each_plan_once(
    client_for: Callable[[str | None], Client], patient: Any, plan_work: dict[str, int]
) -> None:
    client = client_for("prescriber")
    shown = _post(client, f"/api/patients/{patient.pk}/courses/preview", BODY)
    assert shown.status_code == 200, shown.content
    assert plan_work == {"plans": 1, "documents": 1}
    saved = _post(client, f"/api/patients/{patient.pk}/courses", BODY)
    assert saved.status_code == 201, saved.content
    assert plan_work == {"plans": 2, "documents": 2}
    assert Course.objects.get().plan == shown.json()
