"""URLs: the JSON API under /api/, the Django admin under /admin/."""

from django.contrib import admin
from django.urls import path

from ivig.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
