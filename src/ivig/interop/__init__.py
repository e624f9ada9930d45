"""Documents and exchange formats: PDFs (WeasyPrint), calendars (icalendar), FHIR R4B
(fhir.resources), CSV, the handout's text and the SVG charts. Each module renders the plain data
or the records given to it (or reads a file's format), and nothing else: it never queries or
writes the records and imports nothing from them. The records services that read what to render
and audit what leaves call them (``ivig.records.services.documents``, ``exchange``)."""
