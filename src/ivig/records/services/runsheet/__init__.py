"""The nurse run sheet of one order, as a read of the record: what it shows (``sheet``) and how
each number on it is computed (``basis``, requirement 55). The web draws it with its forms;
the print view and the PDF (``ivig print``, ``/orders/<id>/runsheet.pdf``) draw
:func:`~ivig.records.services.runsheet.sheet.print_sheet`."""
