"""URLs: the JSON API under /api/, the Django admin under /admin/, /health/ for monitors."""

from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from ivig.api.api import api
from ivig.records.admin import site as admin_site
from ivig.server.views import health

urlpatterns = [
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg"), permanent=True)),
    path("health/", health, name="health"),
    path("admin/", admin_site.urls),
    path("api/", api.urls),
    path("", include("ivig.web.urls")),
]

handler404 = "ivig.server.views.not_found"
