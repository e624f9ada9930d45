"""ivig: plan, run and record intravenous immunoglobulin (IVIG) treatment.

The clinical core is pure Python: it imports no web, database or CLI library and reads no
environment variable. Its public API::

    from ivig import Patient, Regimen, Phase, Sex, packaged_library, plan_course
    plan = plan_course(
        Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60),
        Regimen(indication="lems", product="privigen-us", phase=Phase.induction,
                start=datetime.date(2026, 12, 1), days=2),
        packaged_library(),  # or read_library(folder): a site's own drug library
    )

Errors are :class:`ivig.errors.IvigError` and its children (the tree is drawn in
``ivig.errors``).
"""

from ivig.core.catalogue import Catalogue, Indication, Product, RateSchedule
from ivig.core.dosing import GivenDose, VialPick, rolling_cap, round_to_vials
from ivig.core.library import Library, packaged_library, read_library
from ivig.core.plan import Dose, Patient, Phase, Plan, Regimen, plan_course
from ivig.core.rates import RateCeiling, RateStep, rate_ramp, rate_steps
from ivig.core.renal import CreatinineUnit, ckd_epi_2021, cockcroft_gault
from ivig.core.screening import Finding, FindingSeverity
from ivig.core.weights import (
    DosingWeight,
    Sex,
    WeightBasis,
    adjusted_body_weight,
    bmi,
    dosing_weight,
    ideal_body_weight,
)
from ivig.errors import (
    CapExceeded,
    CatalogueError,
    InvalidInput,
    IvigError,
    NoRateSchedule,
    OutOfRange,
    UnknownIndication,
    UnknownProduct,
)

__version__ = "0.1.0"

__all__ = [
    "CapExceeded",
    "Catalogue",
    "CatalogueError",
    "CreatinineUnit",
    "Dose",
    "DosingWeight",
    "Finding",
    "FindingSeverity",
    "GivenDose",
    "Indication",
    "InvalidInput",
    "IvigError",
    "Library",
    "NoRateSchedule",
    "OutOfRange",
    "Patient",
    "Phase",
    "Plan",
    "Product",
    "RateCeiling",
    "RateSchedule",
    "RateStep",
    "Regimen",
    "Sex",
    "UnknownIndication",
    "UnknownProduct",
    "VialPick",
    "WeightBasis",
    "adjusted_body_weight",
    "bmi",
    "ckd_epi_2021",
    "cockcroft_gault",
    "dosing_weight",
    "ideal_body_weight",
    "packaged_library",
    "plan_course",
    "rate_ramp",
    "rate_steps",
    "read_library",
    "rolling_cap",
    "round_to_vials",
]
