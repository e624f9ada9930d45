"""URLs: the JSON API under /api/, the Django admin under /admin/."""

from django.urls import path
from django.views.generic import RedirectView

from ivig.api.api import api
from ivig.records.admin import site as admin_site

urlpatterns = [
    # Until the pages arrive (issue 4), the front door is the API's own documentation.
    path("", RedirectView.as_view(url="/api/docs", permanent=False)),
    path("admin/", admin_site.urls),
    path("api/", api.urls),
]

handler404 = "ivig.server.views.not_found"
