"""The API routes, one module per part of the record."""
