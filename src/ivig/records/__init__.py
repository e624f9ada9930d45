"""The records: Django app holding the treatment record, its services and the audit chain."""
