"""Documents and exchange: PDFs (WeasyPrint), calendars (icalendar), FHIR R4B
(fhir.resources), CSV. Each module turns records into a format or back; the web, the API and
the CLI call them."""
