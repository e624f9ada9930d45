"""The web app: pages and partials (Django templates, htmx), one module of views per page."""
