"""The Django project: settings (from the environment, validated), URLs, WSGI."""
