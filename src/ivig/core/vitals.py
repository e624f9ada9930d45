"""The vital signs taken at the chair: one definition per sign, read by every list of them.

Each :class:`VitalSign` names its field (the model column, the service input, the API and form
field, the key of its ranges in ``monitoring.toml [vitals.FIELD]``), its name and unit as shown
to the nurse, whether it is a whole number, and its LOINC code with the UCUM unit FHIR sends
(LOINC vital signs panel 85353-1; HL7 FHIR R4 vital signs profile, which also codes SpO2 by pulse
oximetry as 59408-5 and blood pressure as the 85354-9 panel of its two parts).

Its sourced plausible range and abnormal limits stay protocol, in ``monitoring.toml``
(``ivig.core.monitoring.read_monitoring_protocol`` checks it covers exactly these signs). A new
vital sign is: an entry here, its ``[vitals.FIELD]`` ranges, the ``Vitals`` model column and its
migration (``tests/core/test_vitals.py`` fails while a piece is missing).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BLOOD_PRESSURE", "VITAL_FIELDS", "VITAL_SIGNS", "LoincPanel", "VitalSign", "vital"]


@dataclass(frozen=True, slots=True)
class LoincPanel:
    """A LOINC panel whose parts FHIR sends as the components of one Observation."""

    code: str
    display: str
    text: str


BLOOD_PRESSURE = LoincPanel(
    "85354-9", "Blood pressure panel with all children optional", "Blood pressure"
)


@dataclass(frozen=True, slots=True)
class VitalSign:
    """One vital sign.

    ``name`` and ``unit`` are in the nurse's messages and the run sheet's columns; ``label`` is
    the form label's name (typographic where the message's is plain: SpO₂). ``loinc`` is the
    code and ``loinc_display`` its display, ``also_coded`` more (code, display) codings,
    ``ucum`` its UCUM unit (FHIR's), ``panel`` the panel it is a part of. ``typical`` is the
    range of a well adult at rest and ``reaction_rise`` what a mild reaction adds (the demo's
    readings).
    """

    field: str
    name: str
    label: str
    unit: str
    integer: bool
    loinc: str
    loinc_display: str
    ucum: str
    typical: tuple[float, float]
    also_coded: tuple[tuple[str, str], ...] = ()
    panel: LoincPanel | None = None
    reaction_rise: float = 0

    @property
    def form_label(self) -> str:
        """The label of its form field: ``Temperature (°C)``."""
        return f"{self.label} ({self.unit})"


VITAL_SIGNS: tuple[VitalSign, ...] = (
    VitalSign(
        "temperature_c", "temperature", "Temperature", "°C", integer=False,
        loinc="8310-5", loinc_display="Body temperature", ucum="Cel",
        typical=(36.4, 36.9), reaction_rise=0.4,
    ),
    VitalSign(
        "pulse_per_min", "pulse", "Pulse", "/min", integer=True,
        loinc="8867-4", loinc_display="Heart rate", ucum="/min",
        typical=(64, 80), reaction_rise=12,
    ),
    VitalSign(
        "systolic_mm_hg", "systolic blood pressure", "Systolic blood pressure", "mm Hg",
        integer=True, loinc="8480-6", loinc_display="Systolic blood pressure", ucum="mm[Hg]",
        panel=BLOOD_PRESSURE, typical=(118, 134), reaction_rise=14,
    ),
    VitalSign(
        "diastolic_mm_hg", "diastolic blood pressure", "Diastolic blood pressure", "mm Hg",
        integer=True, loinc="8462-4", loinc_display="Diastolic blood pressure", ucum="mm[Hg]",
        panel=BLOOD_PRESSURE, typical=(70, 82),
    ),
    VitalSign(
        "respiratory_rate_per_min", "respiratory rate", "Respiratory rate", "/min", integer=True,
        loinc="9279-1", loinc_display="Respiratory rate", ucum="/min", typical=(14, 18),
    ),
    VitalSign(
        "spo2_percent", "SpO2", "SpO₂", "%", integer=True,
        loinc="2708-6", loinc_display="Oxygen saturation in Arterial blood", ucum="%",
        also_coded=(("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),),
        typical=(96, 99),
    ),
)  # fmt: skip
VITAL_FIELDS: tuple[str, ...] = tuple(v.field for v in VITAL_SIGNS)
_BY_FIELD = {v.field: v for v in VITAL_SIGNS}


def vital(field: str) -> VitalSign:
    """The vital sign of a field (``KeyError`` for a field that is none)."""
    return _BY_FIELD[field]
