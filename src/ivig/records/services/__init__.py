"""Domain services: each write checks the actor's role, runs the clinical core, writes the
records and the audit event in one transaction, and raises an ``ivig.errors.IvigError``.

    access      roles and the one permission check
    patients    patients (registered with the first weight), weights, eligibility
    renal       serum creatinine results: dated, with their unit; the latest is planned with
    courses     prescribe a course (plan + orders; the 28-day cap checked under a lock)
    orders      verify, dispense (lots), defer, cancel: the order status flow; the lot look-up
    infusions   pre-infusion check, override, start, rate changes, vitals, reactions, end
    outcomes    3TUG, QMG, MRC, MG-ADL against baseline
    accounts    users, roles and API tokens
    documents   the handout and run-sheet PDFs, the calendar, the FHIR Bundle: made and audited
    runsheet    what the run sheet shows and the basis of each number (a read)
    exchange    CSV exports (audited) and the patient import
    reads       the read audit of a patient's record (the staff's, a patient's own)
    database    the audit events of a backup and a restore
"""
