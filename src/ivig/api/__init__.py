"""The JSON API (django-ninja): routers, schemas and the one error mapping."""
