"""The drug library: every data file a plan, a check or a run sheet reads, from one folder.

A :class:`Library` holds the catalogue (products, indications, risks, the protocol), the
drug-library limits (``limits.toml``: soft and hard limits, override reasons, the weight-change
rule), the monitoring protocol (``monitoring.toml``) and the outcome measures
(``outcomes.toml``), all read from the same folder and citing the same ``sources.toml``. Its
:attr:`~Library.version` is the catalogue's ``catalogue_version`` (requirement 46): a site
that edits any file bumps it.

:func:`packaged_library` is the folder shipped in the package; a site's own folder is read
with :func:`read_library` (the records layer chooses which is in service:
``ivig.records.library.current_library``). The core functions that apply the library's rules
take them as an argument (``plan_course`` the library, ``check_rate_entry`` its limits, the
monitoring checks its protocol, ...), never falling back to the packaged copy; the Django-free
commands (``ivig plan``, ``products``, ``risks``) pass :func:`packaged_library`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ivig.core.catalogue import Catalogue, Protocol, read_catalogue
from ivig.core.limits import LimitRules, read_limits
from ivig.core.monitoring import MonitoringProtocol, read_monitoring_protocol
from ivig.core.outcomes import OutcomeMeasure, read_outcome_measures
from ivig.core.sourced import Sourced, read_toml
from ivig.core.weight_change import read_weight_rule
from ivig.errors import CatalogueError

__all__ = ["Library", "packaged_library", "read_library"]


@dataclass(frozen=True)
class Library:
    """One drug library: the catalogue and the rules read with it from one folder."""

    catalogue: Catalogue
    limits: LimitRules
    monitoring: MonitoringProtocol
    outcomes: Mapping[str, OutcomeMeasure]
    weight_rule: Sourced[float]

    @property
    def version(self) -> str:
        """The catalogue's ``catalogue_version``: the version of the whole library."""
        return self.catalogue.version

    @property
    def protocol(self) -> Protocol:
        return self.catalogue.protocol


def read_library(folder: Traversable | Path) -> Library:
    """Read and check every file of the library in ``folder``; raise :class:`CatalogueError`."""
    catalogue = read_catalogue(folder)
    sources = catalogue.sources
    limits_data = read_toml(folder, "limits.toml")
    outcomes = read_outcome_measures(read_toml(folder, "outcomes.toml"), sources=sources)
    for indication in catalogue.indications.values():  # each names measures of outcomes.toml
        unknown = [m for m in indication.outcome_measures if m not in outcomes]
        if unknown:
            raise CatalogueError(
                f"catalogue indications.toml [{indication.id}]: 'outcome_measures' names "
                f"{', '.join(unknown)}, not in outcomes.toml (known: {', '.join(outcomes)})",
                field="outcome_measures",
            )
    return Library(
        catalogue=catalogue,
        limits=read_limits(limits_data, sources),
        monitoring=read_monitoring_protocol(
            read_toml(folder, "monitoring.toml"),
            sources=sources,
            long_gap_weeks=catalogue.protocol.long_gap_weeks,
        ),
        outcomes=outcomes,
        weight_rule=read_weight_rule(limits_data, sources),
    )


@functools.cache
def packaged_library() -> Library:
    """The library shipped in the package (read once per process)."""
    return read_library(resources.files("ivig").joinpath("data"))
