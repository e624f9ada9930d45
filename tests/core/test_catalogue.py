"""The drug library: it loads, every value is sourced, and a broken file is refused clearly."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from ivig.core.catalogue import Catalogue, read_catalogue
from ivig.errors import CatalogueError, NoRateSchedule, UnknownProduct

# Issue 2: the catalogue holds at least these products.
REQUIRED_PRODUCTS = [
    "privigen-us", "privigen-eu", "gamunex-c", "gammaked", "octagam-5", "octagam-10",
    "gammagard-liquid", "kiovig", "panzyga", "gammaplex-5", "gammaplex-10", "bivigam",
    "asceniv", "flebogamma-5", "flebogamma-10", "intragam-10", "yimmugo", "alyglo",
]  # fmt: skip


def test_required_products_and_indications(catalogue: Catalogue) -> None:
    assert set(REQUIRED_PRODUCTS) <= set(catalogue.products)
    assert {"lems", "cidp", "mg", "mmn"} <= set(catalogue.indications)


def test_every_value_names_a_real_source(catalogue: Catalogue) -> None:
    for product in catalogue.products.values():
        for name, value in product.sourced_values().items():
            assert value.source.title, f"{product.id}.{name} has no source title"
        for schedule in product.schedules:
            assert schedule.source.url, f"{product.id} {schedule.label}: no source address"


def test_unverified_reference_values_stay_unverified(catalogue: Catalogue) -> None:
    # products.md marks the Flebogamma rates and the Kiovig EU rates UNVERIFIED
    for product_id in ("flebogamma-5", "flebogamma-10", "kiovig"):
        product = catalogue.product(product_id)
        assert not all(s.verified for s in product.schedules)
        assert not product.verified
    # clinical-rules.md section 2: the 2 g/kg per 4 weeks cap is UNVERIFIED in the Criteria
    assert not catalogue.indication("lems").cap_g_per_kg.verified


@pytest.mark.parametrize(
    ("product_id", "cap", "exclusive", "verified"),
    [
        # Issue 14, item 12: "less than" is modelled, and an unverified cap stays unverified.
        ("bivigam", 2, True, False),  # "less [than] 2 mg/kg/min" (Skyscape monograph)
        ("gammagard-liquid", 3.3, True, False),  # "less than 3.3 mg/kg/min" (label copy)
        ("octagam-5", 3.3, True, True),  # "less than 0.07 mL/kg/min [3.3 mg/kg/min]"
        ("octagam-10", 3.3, False, True),  # "not to exceed 3.3 mg/kg/min"
        ("panzyga", 3.3, False, True),  # "Do not exceed 3.3 mg/kg/min"
    ],
)
def test_at_risk_caps_and_their_comparison(
    catalogue: Catalogue, product_id: str, cap: float, exclusive: bool, verified: bool
) -> None:
    product = catalogue.product(product_id)
    assert product.at_risk_max_mg_per_kg_min is not None
    assert product.at_risk_max_mg_per_kg_min.value == cap
    assert product.at_risk_max_mg_per_kg_min.verified is verified
    assert product.at_risk_max_exclusive is exclusive


def test_an_exclusive_flag_needs_a_cap(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    text = (folder / "products.toml").read_text()
    old = 'status = "current"\n'  # the first product, Privigen US, has no at-risk cap
    (folder / "products.toml").write_text(
        text.replace(old, old + "at_risk_max_exclusive = true\n", 1)
    )
    with pytest.raises(CatalogueError) as caught:
        read_catalogue(folder)
    assert "needs an at_risk_max_mg_per_kg_min" in caught.value.message


def test_lems_is_off_label_and_uses_cidp_else_pi(catalogue: Catalogue) -> None:
    lems = catalogue.indication("lems")
    assert catalogue.product("privigen-us").schedule_for(lems).group == "cidp"
    assert catalogue.product("gamunex-c").schedule_for(lems).group == "cidp"
    assert catalogue.product("gammaplex-10").schedule_for(lems).group == "pi"
    assert not any(p.is_on_label(lems) for p in catalogue.products.values())
    assert catalogue.product("privigen-us").is_on_label(catalogue.indication("cidp"))


def test_product_without_schedule_cannot_be_planned(catalogue: Catalogue) -> None:
    with pytest.raises(NoRateSchedule) as caught:
        catalogue.product("yimmugo").schedule_for(catalogue.indication("lems"))
    assert caught.value.field == "product"


def test_unknown_product(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownProduct) as caught:
        catalogue.product("nope")
    assert "privigen-us" in caught.value.message


def _copy(tmp_path: Path) -> Path:
    data = resources.files("ivig").joinpath("data")
    for name in (
        "sources.toml",
        "products.toml",
        "indications.toml",
        "risks.toml",
        "protocol.toml",
    ):
        (tmp_path / name).write_bytes(data.joinpath(name).read_bytes())
    return tmp_path


@pytest.mark.parametrize(
    ("file", "old", "new", "complaint"),
    [
        ("products.toml", 'source = "privigen-us-pi"', 'source = "nowhere"', "unknown source"),
        ("products.toml", "initial = 0.5\nmaximum = 8", "initial = 9\nmaximum = 8", "above"),
        ("products.toml", 'unit = "mg/kg/min"', 'unit = "mg/h"', "must be one of"),
        ("products.toml", 'catalogue_version = "', 'version = "', "catalogue_version"),
        (
            "indications.toml",
            "induction_days = { value = [2, 5]",
            "induction_days = { value = [5, 2]",
            "low <= high",
        ),
        ("risks.toml", 'groups = ["renal"]', 'groups = ["kidney"]', "groups"),
        (
            "protocol.toml",
            "step_minutes = { value = 30",
            "step_minutes = { value = -30",
            "positive",
        ),
        ("products.toml", "[[products]]", "[[products]", "not valid TOML"),
        (
            "products.toml",
            "at_risk_max_exclusive = true",
            'at_risk_max_exclusive = "yes"',
            "wrong type",
        ),
        (
            "risks.toml",
            "from_bmi = { value = 30",
            "from_bmi = { value = -30",
            "positive",
        ),
        (
            "protocol.toml",
            'rounding_increment = { value = "none"',
            "rounding_increment = { value = 0.25",
            "whole tenths",
        ),
    ],
)
def test_broken_catalogue_is_refused(
    tmp_path: Path, file: str, old: str, new: str, complaint: str
) -> None:
    folder = _copy(tmp_path)
    text = (folder / file).read_text()
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogueError) as caught:
        read_catalogue(folder)
    assert complaint in caught.value.message


def test_missing_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "risks.toml").unlink()
    with pytest.raises(CatalogueError, match=r"risks\.toml"):
        read_catalogue(folder)


def test_duplicate_product_id(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    text = (folder / "products.toml").read_text()
    (folder / "products.toml").write_text(text.replace('id = "privigen-eu"', 'id = "privigen-us"'))
    with pytest.raises(CatalogueError, match="two products"):
        read_catalogue(folder)


def test_shipped_catalogue_reads_from_a_plain_folder(tmp_path: Path) -> None:
    assert read_catalogue(_copy(tmp_path)).version
