"""At the chair, by stage: the pre-infusion check, a prescriber's override, start, guarded rate
changes, vitals, the reaction state machine, end of infusion and the post-infusion observation.

Rules (issues 3 and 5; safety-security-requirements.md items cited):

- a nurse cannot start an infusion with a blocking finding unless a prescriber has recorded an
  override with a reason; the start records the vials' visual inspection and who gives the
  infusion (65); with the independent double check on (``IVIG_DOUBLE_CHECK``), neither is the
  order's verifying pharmacist (16);
- clinical times (``at``) are kept apart from the recording time; a time in the future beyond
  2 minutes of clock skew, or before what it records, is refused with 400 (35, 9);
- the session is a state machine (62; ``SessionState``): not-started -> running <-> paused ->
  stopped -> ended -> closed. Every change of state or rate bumps the session's version, taken
  with the row locked, so two simultaneous changes on one infusion give one transition and a
  409 (32);
- a rate typed by the nurse passes the drug library's guards (``core.limits.check_rate_entry``:
  hard limits 48-50, counted; the soft ceiling 47, overridden with a coded reason and the
  password); an increase needs the current step's minimum time and the checkpoint's vital
  signs, or a reason for missing them (60);
- any suspected reaction pauses the pump; a restart is only at or below the last tolerated
  rate; a second or severe reaction stops it, and it restarts that day only on a new prescriber
  order; protocol medicines given make a task for the prescriber (62);
- the start needs baseline vital signs recorded after the check and at or before its time, or
  a reason (kept and audited); a restart needs vital signs after the reaction and the symptoms
  resolved, or a reason; the end records the volume given (the pump log's by default) and its
  grams, which the 28-day cap, the records and the exports count, a stop below 90 % of the
  dose confirmed with a reason; after a reaction the session's ``pump`` view follows the pump
  log (the remaining volume, the expected end, the checkpoints at the kept rate) (issue 16);
- the day closes only after the full observation (20 minutes; 60 after a first infusion, a
  product switch or a gap of more than 8 weeks, from the history) and once it is documented
  (63).

The stages, one module each: ``check`` (the check and the override), ``start``, ``pump``
(rates and their guards), ``reactions`` (pause, stop, resume, restart order), ``tasks``,
``vitals``, ``closing`` (end and observation) and ``state`` (the typed view the run sheet, the
chairs board, the reports and the API read); ``_common`` holds what they share.
"""

from __future__ import annotations

from ivig.records.services.infusions.check import CheckAnswers, override, pre_check
from ivig.records.services.infusions.closing import (
    end_infusion,
    finish_observation,
    observation_for,
    pump_log_volume,
)
from ivig.records.services.infusions.pump import (
    current_rate,
    last_tolerated_rate,
    record_rate,
    steps_of,
)
from ivig.records.services.infusions.reactions import (
    order_restart,
    reaction_advice,
    record_reaction,
    restart_limit,
    resume_infusion,
)
from ivig.records.services.infusions.start import (
    is_late_entry,
    late_entry_text,
    start_infusion,
)
from ivig.records.services.infusions.state import (
    Checkpoint,
    IncreaseHint,
    PumpLog,
    SessionView,
    session_state,
)
from ivig.records.services.infusions.tasks import (
    TaskView,
    acknowledge_task,
    open_tasks,
    task_view,
)
from ivig.records.services.infusions.vitals import VitalsInput, record_vitals

__all__ = [
    "CheckAnswers",
    "Checkpoint",
    "IncreaseHint",
    "PumpLog",
    "SessionView",
    "TaskView",
    "VitalsInput",
    "acknowledge_task",
    "current_rate",
    "end_infusion",
    "finish_observation",
    "is_late_entry",
    "last_tolerated_rate",
    "late_entry_text",
    "observation_for",
    "open_tasks",
    "order_restart",
    "override",
    "pre_check",
    "pump_log_volume",
    "reaction_advice",
    "record_rate",
    "record_reaction",
    "record_vitals",
    "restart_limit",
    "resume_infusion",
    "session_state",
    "start_infusion",
    "steps_of",
    "task_view",
]
