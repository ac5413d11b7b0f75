"""Writes of the reports app: generation into the archive, subscriptions and their
deliveries."""

from .generation import (
    REPORT_MAX_DAYS,
    report_file_name,
    report_filters_clean,
    report_generate,
    report_languages,
    report_parameters_clean,
    report_pdf_bytes,
    report_request,
    report_title,
)
from .subscriptions import (
    cron_parse,
    subscription_cron,
    subscription_delete,
    subscription_deliver,
    subscription_period,
    subscription_save,
)

__all__ = [
    "REPORT_MAX_DAYS",
    "cron_parse",
    "report_file_name",
    "report_filters_clean",
    "report_generate",
    "report_languages",
    "report_parameters_clean",
    "report_pdf_bytes",
    "report_request",
    "report_title",
    "subscription_cron",
    "subscription_delete",
    "subscription_deliver",
    "subscription_period",
    "subscription_save",
]
