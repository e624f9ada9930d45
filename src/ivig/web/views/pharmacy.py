"""The pharmacy: the queue of orders to verify and to dispense, the verification (the check of
the vial rounding and the rate steps), dispensing with lot numbers, and the lot look-up (which
patients received lot X).

The services decide (``orders.verify``, ``orders.dispense``); these views show their errors next
to the field at fault and keep what the pharmacist typed. The verify form sends the dose and
volume the page showed (the server recomputes the plan and refuses on any mismatch: requirement
56); an order planned with another drug library version links to the prescriber's re-plan
(requirement 46). A lot of another product, or expired, is a hard limit shown on its row.

When the service keeps stock (issue 18: a store exists) the dispense pages offer the stock lots
of the order's product usable on the infusion day instead of the typed lot (``orders.dispense``
takes the vials from them); the return page gives unopened vials of a dispensed order back to
the lots they came from (``stock.give_back``)."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path

from ivig.core.barcode import parse_gs1
from ivig.core.catalogue import Product
from ivig.core.units import plain_number
from ivig.errors import Conflict, IvigError, UnknownProduct
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import Course, IgaStatus, MovementKind, Order, OrderStatus, StockLot
from ivig.records.services import orders as service
from ivig.records.services import patient_reports, stock
from ivig.web.forms import DateInput, today
from ivig.web.views.common import posted, roles_required

TIMES = "\N{MULTIPLICATION SIGN}"

# --- forms ---------------------------------------------------------------------------------------


class VersionForm(forms.Form):
    """The order's version as the pharmacist read it (a stale one is refused, 409)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class VerifyForm(VersionForm):
    """The version read and the dose and volume the page showed: the server refuses the
    verification when they are not the order's (requirement 56)."""

    dose_g = forms.FloatField(widget=forms.HiddenInput)
    volume_ml = forms.FloatField(widget=forms.HiddenInput)


class LotForm(forms.Form):
    """One row of dispensing: vials of one size from one lot. The lot and expiry are typed, or
    read from the vial's GS1 barcode scanned into ``scan`` (``core.barcode``: the page's
    script fills them as the code is scanned; the server parses what is sent). The product on
    the vial label has no default: the pharmacist reads it and chooses (issue 16 item 12)."""

    scan = forms.CharField(
        label="Scan",
        required=False,
        max_length=200,
        strip=False,
        help_text="Scan the vial's barcode here: it fills the lot and the expiry.",
    )
    vial_size_g = forms.TypedChoiceField(label="Vial size", coerce=float, choices=())
    lot_number = forms.CharField(label="Lot number", max_length=60, required=False)
    expiry = forms.DateField(label="Expiry date", widget=DateInput, required=False)
    count = forms.IntegerField(label="Vials", min_value=1)
    product_id = forms.ChoiceField(
        label="Product on the vial label",
        choices=(),
        error_messages={"required": "Choose the product printed on the vial label"},
    )

    def __init__(
        self,
        *args: Any,
        sizes: tuple[float, ...] = (),
        products: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        size = self.fields["vial_size_g"]
        assert isinstance(size, forms.TypedChoiceField)
        size.choices = [("", "Choose a size"), *((f"{s:g}", f"{s:g} g") for s in sizes)]
        product = self.fields["product_id"]
        assert isinstance(product, forms.ChoiceField)
        product.choices = products or [("", "Choose the product on the label")]
        self.fields["lot_number"].widget.attrs.update(autocomplete="off", autocapitalize="none")
        self.fields["count"].widget.attrs.update(inputmode="numeric")
        self.fields["scan"].widget.attrs.update(
            **{
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
                "data-gs1-scan": "",
            }
        )

    def clean(self) -> dict[str, Any]:
        """A scanned code fills the lot and expiry left empty (and must agree with those
        typed); then both are required."""
        data = super().clean() or {}
        scanned = (data.get("scan") or "").strip()
        if scanned:
            try:
                code = parse_gs1(scanned, today=today())
            except IvigError as exc:
                self.add_error("scan", exc.message[:1].upper() + exc.message[1:])
            else:
                for name, value in (("lot_number", code.lot), ("expiry", code.expiry)):
                    if value is None:
                        continue
                    if not data.get(name):
                        data[name] = value
                    elif data[name] != value:
                        self.add_error(name, f"The scanned code says {value}: check the vial")
        for name, words in (("lot_number", "the lot number"), ("expiry", "the expiry date")):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, f"Enter {words} (type it or scan the barcode)")
        return data


LotFormSet = forms.formset_factory(LotForm, extra=1, max_num=12, validate_max=True)


class StockLotForm(forms.Form):
    """One row of dispensing when the service keeps stock (issue 18): vials from a stock lot of
    the order's product usable on the infusion day (its number, expiry, size and product are
    the stock lot's); no lot is chosen for the pharmacist."""

    stock_lot_id = forms.TypedChoiceField(
        label="Stock lot",
        coerce=int,
        choices=(),
        error_messages={"required": "Choose the lot the vials are taken from"},
    )
    count = forms.IntegerField(label="Vials", min_value=1)

    def __init__(self, *args: Any, lots: list[StockLot] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A row for an ordered vial size offers the lots of that size only (the spare row,
        # every size): the pharmacist cannot pick a lot of another size for it.
        size = self.initial.get("vial_size_g")
        self.size = float(size) if size is not None else None
        self.lots = {
            lot.pk: lot
            for lot in lots or ()
            if self.size is None or math.isclose(lot.vial_size_g, self.size)
        }
        choice = self.fields["stock_lot_id"]
        assert isinstance(choice, forms.TypedChoiceField)
        choice.choices = [
            ("", "Choose a lot"),
            *((pk, _lot_label(x)) for pk, x in self.lots.items()),
        ]
        if "count" in self.fields:
            self.fields["count"].widget.attrs.update(inputmode="numeric")

    def clean(self) -> dict[str, Any]:
        """The chosen lot's vial size, for the check of the rows against the ordered vials."""
        data = super().clean() or {}
        lot = self.lots.get(data.get("stock_lot_id") or 0)
        if lot is not None:
            data["vial_size_g"] = lot.vial_size_g
        return data


def _lot_label(lot: StockLot) -> str:
    return (f"{lot.store.name} · lot {lot.lot_number} · expires {lot.expiry:%Y-%m-%d} · "
            f"{lot.vial_size_g:g} g · {lot.on_hand} on hand")  # fmt: skip


StockLotFormSet = forms.formset_factory(StockLotForm, extra=1, max_num=12, validate_max=True)


COURSE_COUNT_HELP = (
    "Only when this size comes from more than one lot: at most this many vials from this lot "
    "for the whole course (the last lot of a size gives the rest)."
)


def _course_count(form: forms.Form, help_text: str) -> None:
    """A course row's count is optional: the vials of this lot for the whole course."""
    count = form.fields["count"]
    count.required = False
    count.label = "Vials from this lot for the course"
    count.help_text = help_text


class CourseStockLotForm(StockLotForm):
    """A stock lot of one vial size for the orders of a course (``orders.COURSE_RULE``); its
    vials on hand unless a count says fewer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _course_count(self, COURSE_COUNT_HELP.replace(" (", ", or its vials on hand (", 1))


# a spare row for a second lot of a size (smallfix item 4)
CourseStockLotFormSet = forms.formset_factory(
    CourseStockLotForm, extra=1, max_num=12, validate_max=True
)


class ReturnForm(forms.Form):
    """Unopened vials of an order back to one stock lot (its button posts ``which``: the lot's
    id; the fields are prefixed by it), with a note."""

    count = forms.IntegerField(label="Vials to return", min_value=1)
    note = forms.CharField(label="Note", max_length=2000, required=False)


class LotSearchForm(forms.Form):
    lot = forms.CharField(label="Lot number", max_length=60, required=False)


# --- what the pages show -------------------------------------------------------------------------


def _product(order: Order) -> Product | None:
    try:
        return current_catalogue().product(order.course.product_id)
    except UnknownProduct:
        return None


def _product_name(order: Order) -> str:
    product = _product(order)
    return product.display_name if product else order.course.product_id


def _vials(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "size_g": float(v["size_g"]),
            "count": int(v["count"]),
            "total_g": v["size_g"] * v["count"],
        }
        for v in order.vials
    ]


def _row(order: Order) -> dict[str, Any]:
    return {
        "order": order,
        "product": _product_name(order),
        "vials": _vials(order),
        "replan": order.catalogue_version != current_catalogue().version,
    }


def _queue(status: str) -> QuerySet[Order]:
    return (
        Order.objects.filter(status=status)
        .select_related("patient", "course")
        .order_by("date", "patient__family_name", "patient__given_name", "sequence")
    )


def _num(value: Any, places: int) -> str:
    """A number as a pharmacist reads it: rounded, without trailing zeros (0.5, not 0.500;
    ``core.units.plain_number``); empty when there is none."""
    return "" if value is None else plain_number(float(value), places)


def _check(order: Order) -> dict[str, Any]:
    """The rounding check as the pharmacist reads it: the prescribed dose, the vial-rounded
    dose, the vials and their sum, the deviation, the dosing weight and basis of the course
    plan, and the rate steps with their volumes summing to the dose volume."""
    plan = order.course.plan or {}
    doses = plan.get("doses") or []
    dose: dict[str, Any] = {}
    if 0 < order.sequence <= len(doses) and doses[order.sequence - 1].get("date") == str(
        order.date.isoformat()
    ):
        dose = doses[order.sequence - 1]
    deviation = dose.get("deviation_pct")
    if deviation is None and order.prescribed_g:
        deviation = (order.dose_g - order.prescribed_g) / order.prescribed_g * 100
    vials = _vials(order)
    vial_total = sum(v["total_g"] for v in vials)
    steps = [
        {
            "start": _num(s["start_min"], 1),
            "end": _num(s["end_min"], 1),
            "rate_ml_per_h": _num(s["rate_ml_per_h"], 1),
            "mg_per_kg_per_min": _num(s.get("rate_mg_per_kg_per_min"), 3),
            "volume_ml": _num(s["volume_ml"], 2),
        }
        for s in order.steps
    ]
    step_total = sum(float(s["volume_ml"]) for s in order.steps)
    weight = plan.get("dosing_weight") or {}
    product = _product(order)
    return {
        "prescribed_g": order.prescribed_g,
        "dose_g": order.dose_g,
        "vials": vials,
        "vial_total_g": vial_total,
        "vials_ok": math.isclose(vial_total, order.dose_g, abs_tol=1e-6),
        "deviation_pct": deviation,
        "weight_kg": order.course.dosing_weight_kg,
        "weight_basis": order.course.weight_basis,
        "weight_reason": weight.get("reason", ""),
        "actual_kg": weight.get("actual_kg"),
        "g_per_kg": order.prescribed_g / order.course.dosing_weight_kg
        if order.course.dosing_weight_kg
        else None,
        "steps": steps,
        "step_total_ml": step_total,
        "volume_ml": order.volume_ml,
        "steps_ok": math.isclose(step_total, order.volume_ml, abs_tol=0.01),
        "concentration": product.concentration if product else None,
        "catalogue_version": order.catalogue_version,
        "current_version": current_catalogue().version,
        "same_library": order.catalogue_version == current_catalogue().version,
    }


def _patient_safety(order: Order) -> dict[str, Any]:
    """What the pharmacist verifies beside the arithmetic (issue 16 item 10): the patient's
    allergies, IgA status and risks (in words, from the drug library), the plan's screening
    findings, the eligibility answers for the course's indication and the latest day-before
    check of this order (its answers and what it flagged)."""
    patient = order.patient
    library = current_library()
    risks = library.catalogue.risks
    eligibility = []
    for row in patient.eligibility.filter(indication=order.course.indication):
        indication = library.catalogue.indications.get(row.indication)
        criteria = {c.key: c for c in indication.criteria} if indication else {}
        eligibility += [
            (criteria[key].question, criteria[key].words(value))
            if key in criteria
            else (key.replace("_", " "), str(value))
            for key, value in row.answers.items()
        ]
    check = patient_reports.latest_check(order)
    questions = {q.key: q.text for q in patient_reports.CHECK_QUESTIONS}
    return {
        "allergies": patient.allergies.strip(),
        "iga_status": IgaStatus(patient.iga_status).label
        if patient.iga_status in IgaStatus.values
        else patient.iga_status,
        "iga_alert": patient.iga_status
        in (IgaStatus.deficient, IgaStatus.deficient_with_antibodies),
        "risks": [
            (code, risks[code].meaning if code in risks else code) for code in patient.risk_codes
        ],
        "findings": (order.course.plan or {}).get("findings") or [],
        "eligibility": eligibility,
        "day_check": check,
        "day_check_answers": [
            (questions.get(key, key.replace("_", " ")), "yes" if value else "no")
            for key, value in (check.answers if check else {}).items()
        ],
    }


def _order(order_id: int) -> Order:
    return get_object_or_404(Order.objects.select_related("patient", "course"), pk=order_id)


# --- the queue -----------------------------------------------------------------------------------


@roles_required("pharmacist")
def queue(request: HttpRequest) -> HttpResponse:
    """Orders to verify (planned) and to dispense (verified), by date."""
    return render(
        request,
        "web/pharmacy.html",
        {
            "section": "pharmacy",
            "title": "Pharmacy",
            "to_verify": _by_course([_row(o) for o in _queue(OrderStatus.planned)]),
            "to_dispense": _by_course([_row(o) for o in _queue(OrderStatus.verified)]),
            "lot_form": LotSearchForm(),
            "today": today(),
            "to_return": _to_return(),
        },
    )


def _to_return() -> list[Order]:
    """Deferred or cancelled orders with vials taken from stock and not all returned (issue
    18): their unopened vials go back from the return page."""
    stopped = (
        Order.objects.filter(
            status__in=(OrderStatus.deferred, OrderStatus.cancelled),
            stock_movements__kind=MovementKind.dispense,
        )
        .distinct()
        .select_related("patient")
        .order_by("date", "id")
    )
    return [o for o in stopped[:100] if any(t.out for t in stock.taken_for(o.pk))]


def _by_course(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark the first row of each course in the queue with the number of its orders there:
    the queue offers "all N doses of this course" in one action (issue 16 item 15)."""
    counts = Counter(r["order"].course_id for r in rows)
    seen: set[int] = set()
    for r in rows:
        course = r["order"].course_id
        r["course_count"] = counts[course] if course not in seen else 0
        seen.add(course)
    return rows


# --- verify --------------------------------------------------------------------------------------


@roles_required("pharmacist")
def verify(request: HttpRequest, order_id: int) -> HttpResponse:
    """The check of the rounding, and the Verify button (posting the version read and the dose
    and volume shown: the server recomputes the plan and refuses on any mismatch)."""
    order = _order(order_id)
    shown = {"version": order.version, "dose_g": order.dose_g, "volume_ml": order.volume_ml}
    form = VerifyForm(posted(request), initial=shown)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                service.verify(
                    request.user,
                    order.pk,
                    d["version"],
                    dose_g=d["dose_g"],
                    volume_ml=d["volume_ml"],
                )
            except IvigError as exc:
                form.add_error(None, exc.message)
                status = exc.http_status
                order = _order(order_id)  # what is stored now
            else:
                messages.success(
                    request,
                    f"Verified: {order.patient}, {order.date:%Y-%m-%d}, {order.dose_g:g} g.",
                )
                return redirect("web:pharmacy")
        else:
            form.add_error(None, "the order's version or numbers are missing: reload the page")
            status = 400
    template = "web/pharmacy_verify.html"
    if request.htmx and request.method == "GET":  # type: ignore[attr-defined]
        template += "#panel"
    return render(
        request,
        template,
        {
            "section": "pharmacy",
            "title": f"Verify: {order.patient}",
            "order": order,
            "product": _product_name(order),
            "check": _check(order),
            "safety": _patient_safety(order),
            "form": form,
            "stale": form.is_bound and order.version != _posted_version(form),
            "own_course": order.course.prescribed_by_id == request.user.pk,
            "replanned_by_me": service.planned_by(order) == request.user.pk,  # issue 17 item 6
        },
        status=status,
    )


def _posted_version(form: VersionForm) -> int | None:
    if not form.is_bound:
        return None
    try:
        return int(form.data.get("version", ""))
    except (TypeError, ValueError):
        return None


# --- dispense ------------------------------------------------------------------------------------


def _place_lot_error(
    exc: IvigError,
    used: list[forms.Form],
    top: VersionForm,
    ordered: dict[float, int],
) -> None:
    """Put every dispensing problem next to the row and field at fault (the service lists
    them all in ``details["errors"]``, each naming its row, 1-based, and field); a mismatch
    with the ordered vials goes above the rows and on the count of each size that does not
    add up."""
    for problem in _problems(exc):
        _place_one(problem, used, top, ordered, exc.field)


def _problems(exc: IvigError) -> list[dict[str, Any]]:
    """The problems an error names (``details["errors"]``, each with its row, column and
    message), else the error itself as one."""
    listed = exc.details.get("errors")
    if isinstance(listed, list) and listed:
        return [p for p in listed if isinstance(p, dict)]
    return [{"row": exc.details.get("row"), "column": exc.details.get("column"),
             "message": exc.message}]  # fmt: skip


def _place_one(
    problem: dict[str, Any],
    used: list[forms.Form],
    top: VersionForm,
    ordered: dict[float, int],
    field: str | None,
) -> None:
    row, column, text = problem.get("row"), problem.get("column"), str(problem["message"])
    if isinstance(row, int) and 0 < row <= len(used):
        form = used[row - 1]
        message = re.sub(r"^lot \d+: ", "", text)  # "lot 2: the lot number is ..."
        message = re.sub(r"^lot \d+ \(([^)]*)\)", r"lot \1", message)  # "lot 2 (X) expires"
        message = message[:1].upper() + message[1:]
        form.add_error(column if column in form.fields else None, message)
        return
    top.add_error(None, text)
    if field != "lots":
        return
    given: dict[float, int] = {}
    for form in used:
        size = form.cleaned_data.get("vial_size_g")
        if size is not None:
            given[size] = given.get(size, 0) + form.cleaned_data["count"]
    for form in used:
        size = form.cleaned_data.get("vial_size_g")
        if size is None:
            continue
        if size not in ordered:
            form.add_error("vial_size_g", f"{size:g} g vials are not in this order")
        elif given.get(size) != ordered[size]:
            want = f"{ordered[size]} {TIMES} {size:g} g"
            form.add_error("count", f"{want} ordered; the rows give {given[size]} of {size:g} g")


def _initial_lots(order: Order) -> list[dict[str, Any]]:
    return [{"vial_size_g": f"{v['size_g']:g}", "count": v["count"]} for v in _vials(order)]


def _dispense_formset(order: Order, data: Any, keeps: bool) -> forms.BaseFormSet[Any]:
    """The rows of the dispense page: typed lots, or, when the service keeps stock, the stock
    lots usable on the infusion day (issue 18); one row per ordered size, counts prefilled."""
    if keeps:
        lots = list(stock.usable_lots(order.course.product_id, order.date))
        initial = [{"count": v["count"], "vial_size_g": v["size_g"]} for v in _vials(order)]
        return StockLotFormSet(data, prefix="lots", initial=initial, form_kwargs={"lots": lots})
    product = _product(order)
    sizes = tuple(sorted({*(product.vial_sizes_g.value if product else ()), *_sizes(order)}))
    return LotFormSet(
        data,
        prefix="lots",
        initial=_initial_lots(order),
        form_kwargs={"sizes": sizes, "products": _product_choices(order)},
    )


def _lot_input(form: forms.Form) -> service.LotInput:
    d = form.cleaned_data
    if "stock_lot_id" in d:
        return service.LotInput("", None, None, d["count"], stock_lot_id=d["stock_lot_id"])
    return service.LotInput(d["lot_number"], d["expiry"], d["vial_size_g"], d["count"],
                            d["product_id"])  # fmt: skip


@roles_required("pharmacist")
def dispense(request: HttpRequest, order_id: int) -> HttpResponse:
    """One row per vial size of the order (lot number, expiry, count prefilled; or the stock
    lot when the service keeps stock), and a spare row for a second lot of a size; posts
    ``orders.dispense`` with the version read."""
    order = _order(order_id)
    ordered = {v["size_g"]: v["count"] for v in _vials(order)}
    data = request.POST if request.method == "POST" else None
    top = VersionForm(data, initial={"version": order.version})
    keeps = stock.keeps_stock()
    formset = _dispense_formset(order, data, keeps)
    status = 200
    if request.method == "POST":
        top_ok = top.is_valid()
        rows_ok = formset.is_valid()
        if not top_ok:
            top.add_error(None, "the order's version is missing: reload the page")
        if top_ok and rows_ok:
            used = [f for f in formset.forms if f.cleaned_data]  # the spare row left blank: {}
            lots = [_lot_input(f) for f in used]
            try:
                done = service.dispense(request.user, order.pk, top.cleaned_data["version"], lots)
            except IvigError as exc:
                _place_lot_error(exc, used, top, ordered)
                if isinstance(exc, Conflict):
                    status = 409
                    order = _order(order_id)
            else:
                numbers = sorted({lot.lot_number for lot in done.lots.all()})
                messages.success(
                    request,
                    f"Dispensed: {order.patient}, {order.date:%Y-%m-%d}, "
                    f"lots {', '.join(numbers)}.",
                )
                return redirect("web:pharmacy")
    return render(
        request,
        "web/pharmacy_dispense.html",
        {
            "section": "pharmacy",
            "title": f"Dispense: {order.patient}",
            "order": order,
            "product": _product_name(order),
            "vials": _vials(order),
            "top": top,
            "formset": formset,
            "expired_before": order.date,
            "keeps_stock": keeps,
            "taken": stock.taken_for(order.pk),
        },
        status=status,
    )


def _product_choices(order: Order) -> list[tuple[str, str]]:
    """The product on a lot's vial label, chosen by the pharmacist (no default: issue 16 item
    12): the order's first, then the others (refused: a hard limit)."""
    others = [
        (p.id, p.display_name)
        for p in current_catalogue().products.values()
        if p.id != order.course.product_id
    ]
    return [
        ("", "Choose the product on the label"),
        (order.course.product_id, f"{_product_name(order)} (the order's product)"),
        *others,
    ]


def _sizes(order: Order) -> tuple[float, ...]:
    return tuple(float(v["size_g"]) for v in order.vials)


# --- a course's doses together (issue 16 item 15) ------------------------------------------------


class CourseLotForm(LotForm):
    """A typed lot of one vial size for the orders of a course (``orders.COURSE_RULE``): each
    order takes its own count; a count only where a size comes from more than one lot."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _course_count(self, COURSE_COUNT_HELP)


CourseLotFormSet = forms.formset_factory(CourseLotForm, extra=1, max_num=12, validate_max=True)


def _course(course_id: int) -> Course:
    return get_object_or_404(Course.objects.select_related("patient"), pk=course_id)


def _course_orders(course: Course, status: str) -> list[Order]:
    return list(
        course.orders.filter(status=status)
        .select_related("patient", "course")
        .order_by("date", "sequence")
    )


def _shown(request: HttpRequest, numbers: bool) -> list[service.Shown]:
    """The orders the confirmation showed, as posted: ``order`` (each id) with its
    ``version-<id>`` (and ``dose-<id>``, ``volume-<id>`` for verification). Raises ValueError
    when one is missing or not a number."""
    out = []
    for raw in request.POST.getlist("order"):
        pk = int(raw)
        version = int(request.POST[f"version-{pk}"])
        if numbers:
            dose, volume = float(request.POST[f"dose-{pk}"]), float(request.POST[f"volume-{pk}"])
            out.append(service.Shown(pk, version, dose, volume))
        else:
            out.append(service.Shown(pk, version))
    if not out:
        raise ValueError("no order")
    return out


@roles_required("pharmacist")
def verify_course(request: HttpRequest, course_id: int) -> HttpResponse:
    """Every planned order of a course on one page, each with its numbers and checks, and one
    Verify for all of them (each still verified and audited on its own, in one transaction)."""
    course = _course(course_id)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            shown = _shown(request, numbers=True)
        except (KeyError, ValueError):
            errors.append("the orders' versions or numbers are missing: reload the page")
            status = 400
        else:
            try:
                done = service.verify_course(request.user, course.pk, shown)
            except IvigError as exc:
                errors.append(exc.message)
                status = exc.http_status
            else:
                messages.success(
                    request,
                    f"Verified {len(done)} doses: {course.patient}, "
                    + ", ".join(f"{o.date:%Y-%m-%d} {o.dose_g:g} g" for o in done)
                    + ".",
                )
                return redirect("web:pharmacy")
    found = _course_orders(course, OrderStatus.planned)
    return render(
        request,
        "web/pharmacy_verify_course.html",
        {
            "section": "pharmacy",
            "title": f"Verify the course: {course.patient}",
            "course": course,
            "rows": [
                {**_row(o), "check": _check(o), "differences": _differences(o)} for o in found
            ],
            "order": found[0] if found else None,
            "safety": _patient_safety(found[0]) if found else None,
            "errors": errors,
            "own_course": course.prescribed_by_id == request.user.pk,
            "replanned_by_me": any(service.planned_by(o) == request.user.pk for o in found),
        },
        status=status,
    )


def _differences(order: Order) -> list[str]:
    """The server's recomputation of the order, as the pharmacist reads it before verifying
    (what differs, in words; empty when nothing does)."""
    try:
        return service.recomputed_differences(order)
    except IvigError as exc:
        return [exc.message]


def _initial_course_lots(found: list[Order]) -> list[dict[str, Any]]:
    sizes = sorted({v["size_g"] for o in found for v in _vials(o)}, reverse=True)
    return [{"vial_size_g": f"{s:g}"} for s in sizes]


@roles_required("pharmacist")
def dispense_course(request: HttpRequest, course_id: int) -> HttpResponse:
    """Every verified order of a course dispensed from its lots, a row per vial size and a
    spare row for a second lot of a size (shared out by ``orders.COURSE_RULE``, said on the
    page): the page shows each order's own counts; the service checks each order and names
    every problem."""
    course = _course(course_id)
    found = _course_orders(course, OrderStatus.verified)
    product = current_catalogue().products.get(course.product_id)
    sizes = tuple(
        sorted(
            {
                *(product.vial_sizes_g.value if product else ()),
                *(s for o in found for s in _sizes(o)),
            }
        )
    )
    data = request.POST if request.method == "POST" else None
    keeps = stock.keeps_stock()
    formset: forms.BaseFormSet[Any]
    if keeps:  # issue 18: a stock lot usable on the course's last dose day, per size
        usable = stock.usable_lots(course.product_id, found[-1].date) if found else []
        formset = CourseStockLotFormSet(
            data,
            prefix="lots",
            initial=_initial_course_lots(found),
            form_kwargs={"lots": list(usable)},
        )
    else:
        formset = CourseLotFormSet(
            data,
            prefix="lots",
            initial=_initial_course_lots(found),
            form_kwargs={
                "sizes": sizes,
                "products": _product_choices(found[0]) if found else None,
            },
        )
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            shown = _shown(request, numbers=False)
        except (KeyError, ValueError):
            errors.append("the orders' versions are missing: reload the page")
            status = 400
        else:
            if formset.is_valid():
                used = [f for f in formset.forms if f.cleaned_data]
                lots = [_course_lot(f) for f in used]
                try:
                    done = service.dispense_course(request.user, course.pk, shown, lots)
                except IvigError as exc:
                    status = exc.http_status if isinstance(exc, Conflict) else 200
                    for problem in _problems(exc):
                        row = problem.get("row")
                        if isinstance(row, int) and 0 < row <= len(used):
                            column = problem.get("column")
                            form = used[row - 1]
                            form.add_error(
                                column if column in form.fields else None, problem["message"]
                            )
                        else:
                            errors.append(problem["message"])
                else:
                    numbers = {lot.lot_number for o in done for lot in o.lots.all()}
                    messages.success(
                        request,
                        f"Dispensed {len(done)} doses: {course.patient}, lots "
                        + ", ".join(sorted(numbers))
                        + ".",
                    )
                    return redirect("web:pharmacy")
    return render(
        request,
        "web/pharmacy_dispense_course.html",
        {
            "section": "pharmacy",
            "title": f"Dispense the course: {course.patient}",
            "course": course,
            "rows": [_row(o) for o in found],
            "product": _product_name(found[0]) if found else course.product_id,
            "formset": formset,
            "errors": errors,
            "expired_before": found[-1].date if found else None,
            "keeps_stock": keeps,
            "course_rule": service.COURSE_RULE,
        },
        status=status,
    )


def _course_lot(form: forms.Form) -> service.CourseLot:
    d = form.cleaned_data
    if "stock_lot_id" in d:
        return service.CourseLot(
            "", None, None, stock_lot_id=d["stock_lot_id"], count=d.get("count")
        )
    return service.CourseLot(d["lot_number"], d["expiry"], d["vial_size_g"], d["product_id"],
                             count=d.get("count"))  # fmt: skip


# --- returns (issue 18) --------------------------------------------------------------------------


@roles_required("pharmacist")
def give_back(request: HttpRequest, order_id: int) -> HttpResponse:
    """What was taken from stock for a dispensed order, per stock lot (taken, returned), and a
    count of unopened vials to return to each lot with a note (``stock.give_back``)."""
    order = _order(order_id)
    posted_lot = _posted_lot(request)
    status = 200
    rows: list[dict[str, Any]] = []
    for t in stock.taken_for(order.pk):
        mine = posted_lot == t.lot.pk
        form = ReturnForm(request.POST if mine else None, prefix=f"lot{t.lot.pk}")
        if mine and form.is_valid():
            d = form.cleaned_data
            try:
                lot = stock.give_back(request.user, t.lot.pk, d["count"], order.pk, d["note"])
            except IvigError as exc:
                form.add_error("count", exc.message)
                status = exc.http_status
            else:
                messages.success(
                    request,
                    f"Returned {d['count']} vials to lot {lot.lot_number}: "
                    f"{lot.on_hand} on hand in {lot.store.name}.",
                )
                return redirect("web:pharmacy-return", order_id=order.pk)
        elif mine:
            status = 422
        rows.append({"taken": t, "form": form})
    if request.method == "POST" and posted_lot not in {r["taken"].lot.pk for r in rows}:
        messages.error(request, "Nothing was taken from that lot for this order.")
        status = 409
    return render(
        request,
        "web/pharmacy_return.html",
        {
            "section": "pharmacy",
            "title": f"Return vials: {order.patient}",
            "order": order,
            "product": _product_name(order),
            "rows": rows,
        },
        status=status,
    )


def _posted_lot(request: HttpRequest) -> int | None:
    """The stock lot whose return was posted (its button's ``which``); 0 when unreadable."""
    if request.method != "POST":
        return None
    try:
        return int(request.POST.get("which", ""))
    except ValueError:
        return 0


# --- lot look-up ---------------------------------------------------------------------------------


@roles_required("pharmacist", "prescriber", "admin")
def lots(request: HttpRequest) -> HttpResponse:
    """Which patients and orders received lot X (traceability, e.g. for a recall)."""
    form = LotSearchForm(request.GET or None)
    found: list[dict[str, Any]] = []
    lot = ""
    if form.is_valid():
        lot = form.cleaned_data["lot"].strip()
    if lot:
        rows = service.find_lots(lot)
        catalogue = current_catalogue()
        for row in rows:
            product = catalogue.products.get(row.product_id)
            found.append(
                {
                    "lot": row,
                    "order": row.order,
                    "patient": row.order.patient,
                    "product": product.display_name if product else row.product_id,
                }
            )
    template = "web/pharmacy_lots.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#results"
    return render(
        request,
        template,
        {
            "section": "pharmacy",
            "title": f"Lot {lot}" if lot else "Lot look-up",
            "form": form,
            "lot": lot,
            "found": found,
            "patients": len({r["patient"].pk for r in found}),
        },
    )


urlpatterns: list[URLPattern] = [
    path("pharmacy/", queue, name="pharmacy"),
    path("pharmacy/orders/<int:order_id>/verify/", verify, name="pharmacy-verify"),
    path("pharmacy/orders/<int:order_id>/dispense/", dispense, name="pharmacy-dispense"),
    path("pharmacy/lots/", lots, name="pharmacy-lots"),
    path("pharmacy/orders/<int:order_id>/return/", give_back, name="pharmacy-return"),
    path("pharmacy/courses/<int:course_id>/verify/", verify_course, name="pharmacy-verify-course"),
    path(
        "pharmacy/courses/<int:course_id>/dispense/",
        dispense_course,
        name="pharmacy-dispense-course",
    ),
]
