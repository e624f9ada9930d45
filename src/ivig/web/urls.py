"""The pages: patients here, and each other page module's own ``urlpatterns``."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from ivig.web.views import (
    alerts,
    board,
    bookings,
    chairs,
    corrections,
    handout,
    me_reminders,
    me_reports,
    patients,
    pharmacy,
    plan_actions,
    portal,
    premedication,
    prescribe,
    reports,
    runsheet,
    signin,
    staff,
    stock,
    units,
)

app_name = "web"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", patients.patient_list, name="home"),
    path("signin/", signin.SignInView.as_view(), name="signin"),
    path("signout/", auth_views.LogoutView.as_view(), name="signout"),
    path("patients/", patients.patient_list, name="patients"),
    path("patients/new/", patients.patient_new, name="patient-new"),
    path("patients/<int:patient_id>/", patients.patient_page, name="patient"),
    path("patients/<int:patient_id>/edit/", patients.patient_edit, name="patient-edit"),
    path("patients/<int:patient_id>/outcomes/", patients.outcome_new, name="outcome-new"),
    path("patients/<int:patient_id>/weights/", patients.weight_new, name="weight-new"),
    path(
        "patients/<int:patient_id>/weights/<int:weight_id>/confirm/",
        patients.weight_confirm,
        name="weight-confirm",
    ),
    path("patients/<int:patient_id>/creatinine/", patients.creatinine_new, name="creatinine-new"),
    *prescribe.urlpatterns,
    *pharmacy.urlpatterns,
    *chairs.urlpatterns,
    *runsheet.urlpatterns,
    *corrections.urlpatterns,
    *reports.urlpatterns,
    *handout.urlpatterns,
    *me_reports.urlpatterns,
    *portal.urlpatterns,
    *alerts.urlpatterns,
    *staff.urlpatterns,
    *premedication.urlpatterns,
    # Under /signin/: patients reach it too (the idle warning asks it; issue 16 item 2).
    path("signin/stay/", signin.stay_signed_in, name="stay-signed-in"),
    *plan_actions.urlpatterns,
    *stock.urlpatterns,  # issue 18
    *units.urlpatterns,  # issue 18
    *bookings.urlpatterns,  # issue 18
    *me_reminders.urlpatterns,  # issue 18
    *board.urlpatterns,  # issue 18: the unit's board
]
