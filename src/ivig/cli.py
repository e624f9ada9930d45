"""The ``ivig`` command (Typer + Rich) over the clinical core.

``plan``, ``products``, ``product`` and ``risks`` import nothing but the core. Errors are
translated here, in one place (:func:`main`): one line ``Error: ...`` on stderr naming the field,
exit code 1; with ``--json`` also ``{"error": {"code", "message", "field"}}`` on stdout. Any
other exception (a bug, a broken installation) is one line too, ``Error: internal error in
<command>: <type>: <message>; details in <log>``, exit code 2, its traceback appended to
``errors.log`` in the data folder (``--debug`` or ``IVIG_DEBUG=1`` prints it as well); Ctrl-C
is ``Error: interrupted``, exit code 130.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from ivig import __version__, commands
from ivig.core.catalogue import Product, Sourced
from ivig.core.dosing import GivenDose, vial_label
from ivig.core.library import packaged_library
from ivig.core.plan import Patient, Phase, Plan, Regimen, plan_course
from ivig.core.renal import CreatinineUnit
from ivig.core.screening import FindingSeverity
from ivig.core.units import plain_number
from ivig.core.weights import Sex, WeightBasis
from ivig.errors import InvalidInput, IvigError, UnknownProduct, error_body

__all__ = ["app", "main"]

PLAN_EXAMPLE = (
    "Example: ivig plan --sex male --height-cm 180 --weight-kg 100 --age 60 "
    "--product privigen-us --indication lems --phase induction --days 2 --start 2026-12-01"
)

app = typer.Typer(
    name="ivig",
    help="Plan intravenous immunoglobulin (IVIG) courses: dosing weight, vials, rate steps, "
    "screening. Every number names its source.",
    epilog=PLAN_EXAMPLE,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Rich's help panels cut long option names at 80 columns.
    rich_markup_mode=None,
)

_SEVERITY_STYLE = {
    FindingSeverity.block: "bold white on red",
    FindingSeverity.warn: "bold yellow",
    FindingSeverity.info: "cyan",
}


def _out() -> Console:
    """Standard output: the terminal's width, else ``COLUMNS``, else 80 (a pipe)."""
    return Console(highlight=False, soft_wrap=False)


# --- tables that never cut a value ---------------------------------------------------------------
#
# A column of values (a dose, a vial list, a volume, a rate, a time, an id) is ``no_wrap``: a
# value is shown whole on one line or not as a table at all. A column of words (a name, a
# finding, a meaning) wraps, to no narrower than its longest word, _WORDS_NARROW and _WORDS_WIDE
# allowing (a long URL folds). When the values do not fit the console, the table is printed
# stacked: one block per row, "label: value" lines. No column ever ends in "...": every column
# folds (overflow="fold") should Rich still have to narrow it.

_WORDS_NARROW = 12
_WORDS_WIDE = 20


def _values(table: Table, *names: str, right: bool = True) -> None:
    """Add columns of values (never wrapped), right-aligned unless ``right`` is false."""
    for name in names:
        table.add_column(name, justify="right" if right else "left", no_wrap=True, overflow="fold")


def _words(table: Table, *names: str) -> None:
    """Add columns of words (wrapped)."""
    for name in names:
        table.add_column(name, overflow="fold")


def _fits(console: Console, table: Table) -> bool:
    """Whether ``table`` fits the console with every value column whole and every word column
    as narrow as it may be (see above; its natural width, if less)."""
    wide = console.options.update_width(10_000)
    words = [c for c in table.columns if not c.no_wrap]
    kept = [c.max_width for c in words]
    for c in words:
        longest = max(Measurement.get(console, wide, x).minimum for x in (c.header, *c.cells))
        c.max_width = min(max(longest, _WORDS_NARROW), _WORDS_WIDE, c.max_width or _WORDS_WIDE)
    try:
        needed = Measurement.get(console, wide, table).maximum
    finally:
        for c, width in zip(words, kept, strict=True):
            c.max_width = width
    return needed <= console.width


# Words break at a space, but not after a number ("170 g", "8 mg/kg/min", "28 days") nor inside
# a duration ("3 h 37 min"): a value is never split from its unit.
_GLUED = re.compile(r"(?<=\d) |(?<=\d h) (?=\d)")


def _breaks(plain: str) -> list[int]:
    """Where a line of ``plain`` text may break: its spaces, less the glued ones."""
    glued = {m.start() for m in _GLUED.finditer(plain)}
    return [i for i, c in enumerate(plain) if c == " " and i not in glued]


class _Words:
    """Text wrapped at spaces like Rich wraps it, but never between a number and its unit; a
    word longer than the line (a URL) folds. A table cell or a line of its own (:func:`_say`)."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def lines(self, width: int) -> list[Text]:
        width = max(width, 1)
        out: list[Text] = []
        for line in self.text.split("\n", allow_blank=True):
            pieces: list[tuple[int, int]] = []
            start, last = 0, -1
            for end in [*_breaks(line.plain), len(line)]:
                if end - start > width and last > start:
                    pieces.append((start, last))
                    start = last + 1
                last = end
            pieces.append((start, len(line)))
            for a, b in pieces:
                out.extend(line[i : min(i + width, b)] for i in range(a, b, width) or [a])
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n").join(self.lines(options.max_width))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lines = self.text.plain.split("\n")
        words = (
            len(word)
            for line in lines
            for word in (
                line[a + 1 : b] for a, b in itertools.pairwise([-1, *_breaks(line), len(line)])
            )
        )
        longest = max(words, default=0)
        return Measurement(longest, max(len(line) for line in lines)).with_maximum(
            options.max_width
        )


def _say(console: Console, markup: str) -> None:
    """Print a line of words (console markup) wrapped at the console's width (:class:`_Words`).

    Every value put into ``markup`` from the catalogue, the plan or the user goes through
    :func:`escape` first: Rich would take "[than]" in a source's words for a tag and drop it.
    """
    console.print(_Words(console.render_str(markup)))


def _text(console: Console, cell: RenderableType) -> Text:
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, _Words):
        return cell.text
    return console.render_str(cell) if isinstance(cell, str) else Text(str(cell))


def _print_table(
    console: Console, table: Table, heading: str = "{}", *, squeeze: bool = False
) -> None:
    """Print ``table``; when its values cannot fit the console, with one space less between
    columns if ``squeeze`` (a table without vertical lines), else as one block per row: the
    first cell as a heading (``heading`` formats it: "Dose {}"), then "label: value" lines."""
    if squeeze and not _fits(console, table):
        table.collapse_padding = True
    if _fits(console, table):
        console.print(table)
        return
    if table.title:
        console.print(table.title, style=table.title_style or "")
    columns = table.columns
    labels = [f"{_text(console, c.header).plain}:" for c in columns[1:]]
    for row in zip(*(list(c.cells) for c in columns), strict=True):
        console.print()
        console.print(Text(heading.format(_text(console, row[0]).plain), style="bold"))
        block = Table.grid(padding=(0, 1))
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for label, cell in zip(labels, row[1:], strict=True):
            block.add_row(label, _Words(_text(console, cell)))
        console.print(Padding(block, (0, 0, 0, 2), expand=False))
    console.print()


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _read_history(path: Path) -> tuple[GivenDose, ...]:
    """Earlier doses from a JSON file: ``[{"date": "2026-11-01", "dose_g": 80}, ...]``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="history") from None
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{path} is not UTF-8 text; save it as UTF-8 JSON", field="history"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}", field="history"
        ) from None
    if not isinstance(data, list):
        raise InvalidInput(f"{path} must hold a list of {{date, dose_g}}", field="history")
    doses = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict) or "date" not in item or "dose_g" not in item:
            raise InvalidInput(f'{path} entry {i} must be {{"date", "dose_g"}}', field="history")
        try:
            day = dt.date.fromisoformat(str(item["date"]))
        except ValueError:
            raise InvalidInput(
                f"{path} entry {i}: '{item['date']}' is not a date (YYYY-MM-DD)", field="history"
            ) from None
        grams = item["dose_g"]
        if (
            isinstance(grams, bool)
            or not isinstance(grams, int | float)
            or not math.isfinite(grams)
            or grams <= 0
        ):
            raise InvalidInput(
                f"{path} entry {i}: dose_g must be a positive number of grams", field="history"
            )
        doses.append(GivenDose(day, float(grams)))
    return tuple(doses)


def _date(value: str | None, field: str) -> dt.date | None:
    """A date typed as YYYY-MM-DD, or a clear error naming the option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"'{value}' is not a date (YYYY-MM-DD)", field=field) from None


DATE = "YYYY-MM-DD"


@app.command(epilog=PLAN_EXAMPLE)
def plan(
    sex: Annotated[Sex, typer.Option(help="Sex, for the ideal body weight (Devine).")],
    height_cm: Annotated[float, typer.Option(metavar="CM", help="Height in cm.")],
    weight_kg: Annotated[float, typer.Option(metavar="KG", help="Actual body weight in kg.")],
    age: Annotated[int, typer.Option(metavar="YEARS", help="Age in years.")],
    product: Annotated[str, typer.Option(metavar="ID", help="Product id (`ivig products`).")],
    indication: Annotated[
        str, typer.Option(metavar="ID", help="Indication id (`ivig indications`); no default.")
    ],
    phase: Annotated[Phase, typer.Option(help="Induction or maintenance.")] = Phase.induction,
    start: Annotated[
        str | None, typer.Option(metavar=DATE, help="Date of the first dose (default: today).")
    ] = None,
    days: Annotated[
        int | None, typer.Option(metavar="N", help="Induction: consecutive days (2-5).")
    ] = None,
    total_g_per_kg: Annotated[
        float | None,
        typer.Option(metavar="G/KG", help="Induction: total g/kg (default: the indication's, 2)."),
    ] = None,
    dose_g_per_kg: Annotated[
        float | None, typer.Option(metavar="G/KG", help="Maintenance: g/kg per dose.")
    ] = None,
    every_weeks: Annotated[
        int | None, typer.Option(metavar="N", help="Maintenance: weeks between doses.")
    ] = None,
    count: Annotated[
        int | None, typer.Option(metavar="N", help="Maintenance: number of doses.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar=DATE, help="Maintenance: last possible dose date.")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help='Earlier doses, JSON: [{"date": "YYYY-MM-DD", "dose_g": 80}].'
        ),
    ] = None,
    weight_basis: Annotated[
        WeightBasis, typer.Option(help="auto: NBA rule from 1 July 2026; or actual, adjusted.")
    ] = WeightBasis.auto,
    pregnant: Annotated[
        bool, typer.Option("--pregnant", help="Pregnant (dosing uses actual weight).")
    ] = False,
    weight_basis_reason: Annotated[
        str,
        typer.Option(
            metavar="TEXT",
            help="Clinical reason to insist on --weight-basis adjusted where the NBA rule "
            "excludes it (the cap and rates are then checked on the actual weight too).",
        ),
    ] = "",
    first_infusion: Annotated[
        bool | None,
        typer.Option(
            "--first-infusion/--no-first-infusion",
            help="The first dose is the patient's first IVIG infusion (default: yes, unless "
            "--history, --previous-product or --last-infusion show earlier infusions).",
            show_default=False,
        ),
    ] = None,
    previous_product: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Product of the last infusion, to flag a switch."),
    ] = None,
    last_infusion: Annotated[
        str | None,
        typer.Option(
            metavar=DATE, help="Date of the last infusion (default: latest in --history)."
        ),
    ] = None,
    risk: Annotated[
        list[str] | None,
        typer.Option(metavar="CODE", help="Risk or screening code, repeatable (`ivig risks`)."),
    ] = None,
    egfr: Annotated[
        float | None, typer.Option(metavar="ML/MIN", help="eGFR, mL/min/1.73 m2.")
    ] = None,
    creatinine: Annotated[
        float | None,
        typer.Option(
            metavar="VALUE",
            help="Serum creatinine, for the eGFR by CKD-EPI 2021; needs --creatinine-unit.",
        ),
    ] = None,
    creatinine_unit: Annotated[
        CreatinineUnit | None,
        typer.Option(help="Unit of --creatinine (required with it; never assumed)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Plan an IVIG course: dosing weight, doses in whole vials, rate steps, findings."""
    result = plan_course(
        Patient(
            sex=sex,
            height_cm=height_cm,
            weight_kg=weight_kg,
            age=age,
            pregnant=pregnant,
            risks=frozenset(risk or ()),
            egfr=egfr,
            creatinine=creatinine,
            creatinine_unit=creatinine_unit,
        ),
        Regimen(
            indication=indication,
            product=product,
            phase=phase,
            start=_date(start, "start") or dt.date.today(),
            total_g_per_kg=total_g_per_kg,
            days=days,
            dose_g_per_kg=dose_g_per_kg,
            every_weeks=every_weeks,
            count=count,
            until=_date(until, "until"),
            weight_basis=weight_basis,
            weight_basis_reason=weight_basis_reason,
            first_infusion=first_infusion,
            history=_read_history(history) if history else (),
            previous_product=previous_product,
            last_infusion=_date(last_infusion, "last_infusion"),
        ),
        packaged_library(),
    )
    if as_json:
        _json(result.as_dict())
    else:
        _print_plan(_out(), result)


def _minutes(value: float, *, compact: bool = False) -> str:
    """Minutes as hours and minutes, rounded up: '3 h 37 min', or '3:37' when compact."""
    hours, minutes = divmod(math.ceil(value), 60)
    return f"{hours}:{minutes:02d}" if compact else f"{hours} h {minutes:02d} min"


def _print_rounding(console: Console, p: Plan) -> None:
    """The rounding rule and why each dose is what it is (doses with the same reason together)."""
    if p.rounding is not None:
        _say(console, f"Rounding: {p.rounding.rule}.")
    groups: list[tuple[str, list[int]]] = []
    for i, d in enumerate(p.doses, start=1):
        if groups and groups[-1][0] == d.vials.why:
            groups[-1][1].append(i)
        else:
            groups.append((d.vials.why, [i]))
    for why, numbers in groups:
        which = f"Dose {numbers[0]}" if len(numbers) == 1 else f"Doses {numbers[0]}-{numbers[-1]}"
        _say(console, f"  {which}: {why}.")


def _print_plan(console: Console, p: Plan) -> None:
    w = p.dosing_weight
    _say(
        console,
        f"[bold]IVIG plan[/]: {escape(p.indication.short_name)} {p.phase.value}, "
        f"{escape(p.product.display_name)} {plain_number(p.product.concentration / 10)}% "
        f"[dim](catalogue {escape(p.catalogue_version)})[/]",
    )
    console.print()
    _say(console, f"[bold]Dosing weight {w.kg:.1f} kg[/] ({w.basis.value})")
    ideal = (
        f"ideal {w.ideal_kg:.1f} kg (Devine), adjusted {w.adjusted_kg:.1f} kg"
        if w.ideal_kg is not None and w.adjusted_kg is not None
        else "no ideal or adjusted weight under 152 cm (Devine)"
    )
    _say(console, f"  actual {w.actual_kg:g} kg, {ideal}, BMI {w.bmi:.1f}")
    _say(console, f"  why: {escape(w.reason)}")
    console.print()
    _print_renal(console, p)

    doses = Table(
        title="Doses (vials: count x size)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    _values(doses, "#")
    _values(doses, "Date", right=False)
    _values(doses, "Prescribed", "Dose", "Change")
    _values(doses, "Vials", right=False)
    _values(doses, "Volume", "h:mm")
    for i, d in enumerate(p.doses, start=1):
        doses.add_row(
            str(i),
            d.date.isoformat(),
            f"{plain_number(d.vials.prescribed_g, 2)} g",
            f"{plain_number(d.vials.total_g, 2)} g",
            f"{d.vials.deviation_pct:+.1f}%",
            vial_label(d.vials.vials, compact=True),
            f"{plain_number(d.volume_ml, 2)} mL",
            _minutes(d.duration_min, compact=True),
        )
    _print_table(console, doses, "Dose {}", squeeze=True)
    cap = p.indication.cap_g_per_kg.value
    _say(
        console,
        f"Total {plain_number(p.total_g, 2)} g. Fullest {p.indication.cap_window_days.value} days"
        f"{' (with earlier doses)' if p.history else ''}: "
        f"{plain_number(p.max_28d_g_per_kg, 2)} g/kg of the {plain_number(cap, 2)} g/kg cap "
        f"({plain_number(p.max_window_g, 2)} g of {plain_number(p.cap_g, 2)} g).",
    )
    _print_rounding(console, p)
    console.print()

    label_use = "on-label" if p.on_label else f"off-label for {p.indication.short_name}"
    below = "below " if p.maximum_exclusive else ""
    on_weight = (
        f"the dosing weight {w.kg:.1f} kg"
        if w.checked_kg >= w.kg
        else f"the actual weight {w.checked_kg:.1f} kg (below the dosing weight {w.kg:.1f} kg)"
    )
    _say(
        console,
        f"[bold]Rate steps[/]: {escape(p.product.display_name)}, {escape(p.schedule.label)} "
        f"schedule ({escape(p.schedule.basis)}, {escape(label_use)}); maximum "
        f"{below}{p.maximum_mg_per_kg_per_min:g} mg/kg/min; rates per kg on {on_weight}",
    )
    shown: list[tuple[int, tuple[Any, ...]]] = []
    for i, d in enumerate(p.doses, start=1):
        same = next((j for j, steps in shown if steps == d.steps), None)
        if same is not None:
            _say(console, f"  Dose {i} ({d.date.isoformat()}): the same steps as dose {same}.")
            continue
        shown.append((i, d.steps))
        table = Table(
            title=escape(f"Dose {i} ({d.date.isoformat()}), {plain_number(d.volume_ml, 2)} mL"),
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        _values(table, "Step", "Start min", "End min", "mL/h", "mg/kg/min", "Volume mL")
        _values(table, "Basis", right=False)
        for n, s in enumerate(d.steps, start=1):
            table.add_row(
                str(n),
                plain_number(s.start_min),
                plain_number(s.end_min),
                plain_number(s.rate_ml_per_h),
                plain_number(s.rate_mg_per_kg_per_min, 3),
                plain_number(s.volume_ml, 2),
                escape(s.basis),
            )
        _print_table(console, table, "Step {}", squeeze=True)
        _say(console, f"  Total time {_minutes(d.duration_min)} ({d.duration_min:g} min).")
    console.print()

    findings = Table(
        title="Screening findings", title_justify="left", title_style="bold", show_lines=True
    )
    _values(findings, "Severity", right=False)
    _words(findings, "Finding")
    for f in p.findings:
        text = Text()
        text.append(f"{f.code}: ", style="bold")
        text.append(f.message)
        text.append(f"\nsource: {f.source}", style="dim")
        severity = Text(f.severity.value.upper(), style=_SEVERITY_STYLE[f.severity])
        findings.add_row(severity, _Words(text))
    _print_table(console, findings)
    if p.blocked:
        _say(console, "[bold red]A BLOCK finding stands: do not start until it is resolved.[/]")


def _print_renal(console: Console, p: Plan) -> None:
    """The renal function the plan used: the eGFR, its formula, inputs and source."""
    r = p.renal_dict()
    if r["egfr"] is None:
        _say(
            console,
            "[bold]Renal function: none given[/] (give --creatinine VALUE --creatinine-unit "
            "mg/dL|umol/L, or --egfr)",
        )
    else:
        _say(console, f"[bold]Renal function: eGFR {r['egfr']:.0f} {r['unit']}[/]")
        _say(console, f"  {p.renal.how()}")
        if r["source"]:
            _say(console, f"  [dim]source: {escape(r['source'])}[/]")
        threshold = r["threshold"]
        if threshold is not None:
            flag = "" if threshold["verified"] else ", UNVERIFIED"
            side = "below" if threshold["below"] else "not below"
            _say(
                console,
                f"  {side} the renal-risk threshold of {threshold['egfr']:g} "
                f"(service protocol{flag})",
            )
    console.print()


def _product_row(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.display_name,
        "region": product.region,
        "concentration_mg_per_ml": product.concentration,
        "vial_sizes_g": list(product.vial_sizes_g.value),
        "verified": product.verified,
        "status": product.status,
        "schedules": [s.group for s in product.schedules],
    }


@app.command(epilog="Example: ivig products --json")
def products(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List the product catalogue (the drug library)."""
    catalogue = packaged_library().catalogue
    rows = [_product_row(p) for p in catalogue.products.values()]
    if as_json:
        _json(rows)
        return
    table = Table(
        title=escape(f"IVIG products (catalogue {catalogue.version})"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    _values(table, "Id", right=False)
    _words(table, "Name")
    _values(table, "%", "Vials g", right=False)
    _words(table, "Schedules")
    _values(table, "Verified", right=False)
    for r, p in zip(rows, catalogue.products.values(), strict=True):
        table.add_row(
            escape(r["id"]),
            escape(p.name) + ("*" if p.status != "current" else ""),
            plain_number(r["concentration_mg_per_ml"] / 10),
            " ".join(plain_number(s, 2) for s in r["vial_sizes_g"]),
            escape(" ".join(r["schedules"])) or "[red]none[/]",
            "yes" if r["verified"] else "[yellow]no[/]",
        )
    console = _out()
    _print_table(console, table)
    _say(
        console,
        "Schedules: the label rate schedules known (none: `ivig plan` refuses the product). "
        "Verified no: some value is UNVERIFIED; `ivig product ID` shows which. "
        "* phased out.",
    )


def _sourced(value: Sourced[Any]) -> dict[str, Any]:
    v = value.value
    return {
        "value": list(v) if isinstance(v, tuple) else v,
        "verified": value.verified,
        "source": value.source.cite(),
        "note": value.note,
    }


@app.command(epilog="Example: ivig product octagam-10")
def product(
    product_id: Annotated[str, typer.Argument(metavar="ID", help="Product id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the entry as JSON.")] = False,
) -> None:
    """Show one product with every value's source and verified flag."""
    try:
        p = packaged_library().catalogue.product(product_id)
    except UnknownProduct as exc:
        exc.field = "product_id"
        raise
    values = {name: _sourced(v) for name, v in p.sourced_values().items()}
    schedules: list[dict[str, Any]] = [
        {
            "group": s.group,
            "label": s.label,
            "basis": s.basis,
            "unit": s.unit,
            "initial": s.initial,
            "initial_minutes": s.initial_minutes,
            "step_minutes": s.step_minutes,
            "steps": list(s.steps) if s.steps else None,
            "increment": s.increment,
            "maximum": s.maximum,
            "subsequent_initial": s.subsequent_initial,
            "verified": s.verified,
            "source": s.source.cite(),
            "note": s.note,
        }
        for s in p.schedules
    ]
    if as_json:
        _json(
            {
                **_product_row(p),
                "manufacturer": p.manufacturer,
                "at_risk_max_exclusive": p.at_risk_max_exclusive,
                "values": values,
                "rate_schedules": schedules,
            }
        )
        return
    console = _out()
    _say(
        console,
        f"[bold]{escape(p.display_name)}[/] ({escape(p.id)}), {escape(p.manufacturer)}, "
        f"{escape(p.status)}",
    )
    for name, v in values.items():
        shown = v["value"]
        text = (
            ", ".join(plain_number(x, 3) if isinstance(x, float) else str(x) for x in shown)
            if isinstance(shown, list)
            else plain_number(shown, 3)
        )
        flag = "verified" if v["verified"] else "[yellow]UNVERIFIED[/]"
        if name == "at_risk_max_mg_per_kg_min" and p.at_risk_max_exclusive:
            text = f"below {text} (the pump rate stays below it)"
        _say(console, f"\n[bold]{escape(name)}[/]: {escape(text)} ({flag})")
        _say(console, f"  source: {escape(v['source'])}")
        if v["note"]:
            _say(console, f"  note: {escape(v['note'])}")
    if not schedules:
        _say(console, "[red]No rate schedule is known: `ivig plan` refuses this product.[/]")
    for s in schedules:
        steps = (
            ", ".join(plain_number(x, 3) for x in s["steps"])
            if s["steps"]
            else (
                f"+{s['increment']:g} per step" if s["increment"] else "double each step (protocol)"
            )
        )
        _say(
            console,
            f"\n[bold]Schedule {escape(s['label'])}[/] ({escape(s['group'])}, {escape(s['basis'])}"
            f"{'' if s['verified'] else ', [yellow]UNVERIFIED[/]'}) in {escape(s['unit'])}: "
            f"initial {s['initial']:g} for {s['initial_minutes'] or 'protocol'} min; "
            f"steps {steps} every {s['step_minutes'] or 'protocol'} min; maximum {s['maximum']:g}"
            + (
                f"; later infusions may start at {s['subsequent_initial']:g}"
                if s["subsequent_initial"]
                else ""
            ),
        )
        _say(
            console,
            f"  source: {escape(s['source'])}"
            + (f"\n  note: {escape(s['note'])}" if s["note"] else ""),
        )


@app.command(epilog="Example: ivig risks --json")
def risks(
    as_json: Annotated[bool, typer.Option("--json", help="Print the codes as JSON.")] = False,
) -> None:
    """List the risk and screening codes accepted by `ivig plan --risk`."""
    catalogue = packaged_library().catalogue
    if as_json:
        _json([{"code": r.code, "meaning": r.meaning} for r in catalogue.risks.values()])
        return
    table = Table(title="Risk and screening codes (--risk CODE)", title_justify="left")
    _values(table, "Code", right=False)
    _words(table, "Meaning", "Counts as")
    for r in catalogue.risks.values():
        table.add_row(r.code, _Words(Text(r.meaning)), _Words(Text(", ".join(r.groups))))
    _print_table(_out(), table)


@app.command(epilog="Example: ivig indications --json")
def indications(
    as_json: Annotated[bool, typer.Option("--json", help="Print the indications as JSON.")] = False,
) -> None:
    """List the indications accepted by `ivig plan --indication` (indications.toml)."""
    catalogue = packaged_library().catalogue
    if as_json:
        _json(
            [
                {
                    "id": i.id,
                    "short_name": i.short_name,
                    "name": i.name,
                    "outcome_measures": list(i.outcome_measures),
                }
                for i in catalogue.indications.values()
            ]
        )
        return
    table = Table(title="Indications (--indication ID)", title_justify="left")
    _values(table, "ID", right=False)
    _words(table, "Name", "Outcome measures")
    for i in catalogue.indications.values():
        table.add_row(
            i.id,
            _Words(Text(f"{i.name} ({i.short_name})")),
            _Words(Text(", ".join(i.outcome_measures))),
        )
    _print_table(_out(), table)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an internal error, print the traceback too (also: IVIG_DEBUG=1).",
        ),
    ] = False,
) -> None:
    """Plan intravenous immunoglobulin (IVIG) courses."""
    # --debug is read by main() (it must hold when the command fails); nothing to do here.
    if version:
        typer.echo(f"ivig {__version__}")
        raise typer.Exit()


# Fields that are positional arguments, shown by their metavar rather than as an option.
_ARGUMENTS = {"product_id": "ID", "username": "USERNAME", "file": "FILE"}


commands.register(app)


def _fail(code: str, message: str, field: str | None, want_json: bool) -> int:
    """Report an error: one line on stderr naming the option at fault; JSON too if asked."""
    where = ""
    if field in _ARGUMENTS:
        where = f"{_ARGUMENTS[field]}: "
    elif field:
        where = f"--{field.replace('_', '-')}: "
    sys.stderr.write(f"Error: {where}{message}\n")
    if want_json:
        _json(error_body(code, message, field))
    return 1


def _given(args: list[str], opts: Sequence[str]) -> str | None:
    """The value typed after one of ``opts`` (``--x 1`` or ``--x=1``), if any."""
    for i, arg in enumerate(args):
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(opt + "="):
                return arg[len(opt) + 1 :]
    return None


def _bad_parameter(exc: typer.BadParameter, args: list[str]) -> tuple[str, str | None]:
    """A plain message for a value Typer could not convert, and the field it belongs to."""
    param = exc.param
    field = param.name if param is not None else None
    if type(exc).__name__ == "MissingParameter":
        kind = "argument" if field in _ARGUMENTS else "option"
        return f"this {kind} is required", field
    message = re.sub(r"^Invalid value for '[^']*': (Value error, )?", "", exc.format_message())
    value = _given(args, param.opts) if param is not None else None
    if value is not None and "valid integer" in message:
        message = f"'{value}' is not a whole number"
    elif value is not None and "valid number" in message:
        message = f"'{value}' is not a number"
    return message, field


# --- internal errors ------------------------------------------------------------------------------

LOG_NAME = "errors.log"
_LOG_LIMIT = 1_000_000  # bytes; a longer log is moved to errors.log.1 (one generation kept)


def _command_path(args: list[str]) -> str:
    """The (sub)command typed, e.g. ``print`` or ``export fhir``; ``ivig`` if none."""
    names: list[str] = []
    command: object = typer.main.get_command(app)
    for arg in args:
        if arg.startswith("-"):  # the root's options (--debug, --version) take no value
            continue
        sub = command.commands.get(arg) if isinstance(command, TyperGroup) else None
        if sub is None:
            break
        names.append(arg)
        command = sub
    return " ".join(names) or "ivig"


def _debug(args: list[str]) -> bool:
    """``--debug`` before the command, or ``IVIG_DEBUG=1`` in the environment."""
    root_options = []
    for arg in args:
        if not arg.startswith("-"):
            break
        root_options.append(arg)
    return "--debug" in root_options or os.environ.get("IVIG_DEBUG", "").strip() == "1"


def _data_dir() -> Path:
    """The data folder, as the server finds it (``IVIG_DATA_DIR``, else the XDG default), read
    here without Django."""
    from ivig.server.config import _default_data_dir

    return Path(os.environ.get("IVIG_DATA_DIR") or _default_data_dir(os.environ)).expanduser()


def _save_details(text: str) -> Path | None:
    """Append ``text`` to ``errors.log`` in the data folder (readable by the owner only: a
    traceback may name a patient); a new temporary file when the folder cannot be written;
    ``None`` if neither can."""
    try:
        folder = _data_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / LOG_NAME
        if path.exists() and path.stat().st_size > _LOG_LIMIT:
            path.replace(path.with_name(LOG_NAME + ".1"))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as log:
            log.write(text)
        return path
    except (OSError, RuntimeError):  # RuntimeError: no home folder to find the default
        pass
    try:
        fd, name = tempfile.mkstemp(prefix="ivig-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as log:
            log.write(text)
    except OSError:
        return None
    return Path(name)


def _internal_error(
    exc: Exception, where: str, args: list[str], *, debug: bool, want_json: bool
) -> int:
    """A bug or a broken installation: one line on stderr, the traceback in the log (and on
    stderr with ``--debug``), exit code 2."""
    lines = str(exc).strip().splitlines()
    what = type(exc).__name__ + (f": {lines[0].strip()}" if lines else "")
    details = "".join(traceback.format_exception(exc))
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    path = _save_details(
        f"--- {stamp} ivig {__version__}, internal error in {where}\n"
        f"command: ivig {' '.join(args)}\n{details}\n"
    )
    if debug:
        sys.stderr.write(details)
    saved = f"details in {path}" if path else "the details could not be saved"
    message = f"internal error in {where}: {what}; {saved}"
    sys.stderr.write(f"Error: {message}\n")
    if want_json:
        _json(error_body("internal_error", message, log=str(path) if path else None))
    return 2


_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _interrupted(want_json: bool) -> int:
    sys.stderr.write("Error: interrupted\n")
    if want_json:
        _json(error_body("interrupted", "interrupted"))
    return _INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; translate every error into one line ``Error: ...``: exit code 1 for an
    :class:`IvigError` or a usage error, 2 for an internal error, 130 for Ctrl-C."""
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    want_json = "--json" in args
    try:
        return _run(args, want_json)
    except KeyboardInterrupt:
        return _interrupted(want_json)
    except Exception as exc:  # anything else is a bug: one line, the traceback in the log
        try:
            where = _command_path(args)
        except Exception:  # pragma: no cover - the command tree itself is broken
            where = "ivig"
        return _internal_error(exc, where, args, debug=_debug(args), want_json=want_json)


def _run(args: list[str], want_json: bool) -> int:
    """The command run, its expected errors (:class:`IvigError`, usage) translated."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="ivig", standalone_mode=False)
    except IvigError as exc:
        return _fail(exc.code, exc.message, exc.field, want_json)
    except typer.BadParameter as exc:  # a value Typer could not convert, or a missing one
        message, field = _bad_parameter(exc, args)
        return _fail("invalid_input", message, field, want_json)
    except typer.TyperException as exc:  # any other usage error: unknown option, extra argument
        option = getattr(exc, "option_name", None)
        field = option.lstrip("-").replace("-", "_") if isinstance(option, str) else None
        message = exc.format_message()
        if field is not None:  # "No such option: --x Did you mean --y?" names the option twice
            rest = re.sub(r"^No such option: \S+\s*", "", message).strip()
            message = f"no such option; {rest}" if rest else "no such option"
        return _fail("invalid_input", message, field, want_json)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return 1
    if result == _INTERRUPTED:  # Typer turns Ctrl-C into exit code 130 silently
        return _interrupted(want_json)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
