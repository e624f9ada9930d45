"""URLs: the JSON API under /api/, the Django admin under /admin/."""

from django.urls import include, path

from ivig.api.api import api
from ivig.records.admin import site as admin_site

urlpatterns = [
    path("admin/", admin_site.urls),
    path("api/", api.urls),
    path("", include("ivig.web.urls")),
]

handler404 = "ivig.server.views.not_found"
