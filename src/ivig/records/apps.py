from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "ivig.records"
    label = "records"
    verbose_name = "IVIG records"
    default_auto_field = "django.db.models.BigAutoField"
