"""The pages. Each page module with its own routes adds them through ``urlpatterns``."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from ivig.web.views import patients

app_name = "web"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", patients.patient_list, name="home"),
    path("signin/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="signin"),
    path("signout/", auth_views.LogoutView.as_view(), name="signout"),
    path("patients/", patients.patient_list, name="patients"),
    path("patients/new/", patients.patient_new, name="patient-new"),
    path("patients/<int:patient_id>/", patients.patient_page, name="patient"),
    path("patients/<int:patient_id>/edit/", patients.patient_edit, name="patient-edit"),
]

# The pages of prescribing, the pharmacy, today's chairs and the run sheet, each in its module.
for _name in ("prescribe", "pharmacy", "chairs", "runsheet"):
    if find_spec(f"ivig.web.views.{_name}") is not None:
        urlpatterns += import_module(f"ivig.web.views.{_name}").urlpatterns
