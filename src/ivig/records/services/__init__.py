"""Domain services: each write checks the actor's role, runs the clinical core, writes the
records and the audit event in one transaction, and raises an ``ivig.errors.IvigError``.

    access      roles and the one permission check
    patients    patients, weights, eligibility
    renal       serum creatinine results: dated, with their unit; the latest is planned with
    courses     prescribe a course (plan + orders; the 28-day cap checked under a lock)
    orders      verify, dispense (lots), defer, cancel: the order status flow
    infusions   pre-infusion check, override, start, rate changes, vitals, reactions, end
    outcomes    3TUG, QMG, MRC, MG-ADL against baseline
    accounts    users, roles and API tokens
"""
