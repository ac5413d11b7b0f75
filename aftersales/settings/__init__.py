"""Settings for every environment, read from environment variables with safe local
defaults (one machine: SQLite under var/, filesystem broker, console e-mail).
Production overrides live in aftersales.settings.production."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Local default only; production refuses to start without a real one.
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-local-development-key-change-me")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "django_prometheus",
    "catalog",
    "tickets",
    "quality",
    "improvements",
    "intake",
    "reports",
]

MIDDLEWARE = [
    # Counts every request (and its latency) for /metrics; its After twin is last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The user is needed to pick their profile language before LocaleMiddleware runs.
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "catalog.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Refuses logins while a user name + address is locked out (django-axes).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# django-axes first: it refuses a locked-out user name + address before passwords are checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# 429 with the wait in minutes and Retry-After (renders AXES_LOCKOUT_TEMPLATE).
AXES_LOCKOUT_CALLABLE = "catalog.throttles.lockout_response"
# Reverse proxies in front of the app (production: 1): the client address is the entry the
# outermost one appended to X-Forwarded-For; with 0, REMOTE_ADDR. Axes, the page throttles
# and DRF all read it through catalog.throttles.client_ip.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))
AXES_CLIENT_IP_CALLABLE = "catalog.throttles.client_ip"
RATELIMIT_IP_META_KEY = "catalog.throttles.client_ip"
# Throttles (django-ratelimit syntax, also read by DRF): login posts per client address
# (beside axes' lockout), CSV/XLSX exports per user (pages and API each).
LOGIN_RATE = os.environ.get("LOGIN_RATE", "20/m")
EXPORT_RATE = os.environ.get("EXPORT_RATE", "10/m")

# Content-Security-Policy (django-csp): our own files only; the few inline scripts carry
# the request's nonce. Report-only first via CSP_REPORT_ONLY=1 when rolling out a change.
_CSP = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # NONCE, not the string "'nonce'": django-csp swaps the sentinel for this response's nonce.
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

ROOT_URLCONF = "aftersales.urls"
WSGI_APPLICATION = "aftersales.wsgi.application"
AUTH_USER_MODEL = "catalog.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:queue"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A kept connection broken by a database restart or failover is replaced at the
        # next request instead of failing it.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker, beat and web share the file: wait for a lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
NODE_MODULES = BASE_DIR / "node_modules"
# Only the distribution folders of the npm packages are exposed, never node_modules whole.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# Shared by web and worker processes (import progress, throttles): a folder under var/ on
# one machine, Redis at scale (CACHE_URL=redis://host:6379/1).
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where the file backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend)
# writes one file per connection: the reliability tests count a worker's messages there.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "outbox"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "aftersales@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["catalog.api.permissions.RoleModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "catalog.api.pagination.PageSizePagination",
    "DEFAULT_SCHEMA_CLASS": "catalog.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "catalog.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "2000/min", "export": EXPORT_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "After-sales quality platform API",
    "DESCRIPTION": "Tickets, master data, KPIs and quality analytics. Contract: shared/spec/INTERFACES.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # INTERFACES.md: every endpoint but the customers' signed-link pages needs a login.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "catalog.api.schema.postprocess_time_format",
        "catalog.api.schema.postprocess_error_responses",
    ],
    # Choice sets whose field names ("status", "mode", "source") other models use too.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "tickets.models.Status",  # the name it had before ImportStatus came
        "TypeEnum": "tickets.models.TicketType",  # tickets' type and dispatch rules' ticket_type
        "ImportStatusEnum": "intake.models.ImportStatus",
        "ImportModeEnum": "intake.models.ImportMode",
        "ImportSourceEnum": "intake.models.ImportSource",
        "WeekdayEnum": "tickets.models.Weekday",
        "CalendarDayKindEnum": "tickets.models.CalendarDayKind",
        "TaskKindEnum": "tickets.models.TaskKind",
        "EventKindEnum": "tickets.models.EventKind",
        "KpiKindEnum": ["ratio", "mean", "count"],
        "RecallStateEnum": "quality.models.RecallState",
        "RecallUnitStatusEnum": "quality.models.RecallUnitStatus",
        "RecallSeverityEnum": "quality.models.RecallSeverity",
        "AlertKindEnum": "quality.models.AlertKind",
        "AlertSeverityEnum": "quality.models.AlertSeverity",
        "AlertStatusEnum": "quality.models.AlertStatus",
        "AlertScheduleEnum": "quality.models.AlertSchedule",
        "AlertAutoActionEnum": "quality.models.AlertAutoAction",
        "ImprovementStateEnum": "improvements.models.State",
        "ImprovementSeverityEnum": "improvements.models.Severity",
        "ImprovementSourceEnum": "improvements.models.Source",
        "ImprovementActionKindEnum": "improvements.models.ActionKind",
        "ImprovementActionStatusEnum": "improvements.models.ActionStatus",
        "AgendaKindEnum": "improvements.models.AgendaKind",
        "MeetingStatusEnum": "improvements.models.MeetingStatus",
        "ReportKindEnum": "reports.models.ReportKind",
        "ReportStatusEnum": "reports.models.ReportStatus",
        "ReportScheduleEnum": "reports.models.Schedule",
        "DeliveryStatusEnum": "reports.models.DeliveryStatus",
    },
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
# On Redis, an unacknowledged message (its worker died) goes back to the queue after this
# long; longer than the slowest task (the nightly full KPI refresh).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
if CELERY_BROKER_URL.startswith("filesystem"):
    _queue = VAR_DIR / "broker" / "queue"
    _processed = VAR_DIR / "broker" / "processed"
    _control = VAR_DIR / "broker" / "control"  # kombu's default is relative to the CWD
    for _folder in (_queue, _processed, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(_control),
        "processed_folder": str(_processed),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_IGNORE_RESULT = True
# Four queues so each kind of work can get its own workers (deploy/Procfile): KPI
# refreshes are long, notifications must not wait behind them, reports are heavy.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "quality.tasks.kpi_snapshots_refresh_task": {"queue": "kpi"},
    "quality.tasks.alerts_evaluate_task": {"queue": "kpi"},
    "tickets.tasks.notifications_deliver_task": {"queue": "notifications"},
    "tickets.tasks.survey_email_task": {"queue": "notifications"},
    "reports.tasks.*": {"queue": "reports"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Domain settings (METRICS.md)
REPEAT_FAILURE_WINDOW_DAYS = int(os.environ.get("REPEAT_FAILURE_WINDOW_DAYS", "30"))
# Data-quality report: an entity whose last successful import is older than this is stale.
DATA_FRESHNESS_HOURS = int(os.environ.get("DATA_FRESHNESS_HOURS", "48"))
LABOR_RATE = float(os.environ.get("LABOR_RATE", "100"))
# Stored web uploads of finished imports are deleted after this many days.
IMPORT_UPLOAD_RETENTION_DAYS = int(os.environ.get("IMPORT_UPLOAD_RETENTION_DAYS", "30"))
# The data-quality score shown beside KPI cards is recomputed at most this often.
DATA_QUALITY_CARD_SECONDS = int(os.environ.get("DATA_QUALITY_CARD_SECONDS", "900"))
# A PDF report still "running" after this many seconds lost its worker; the task
# delivered again takes it over (reports.services.report_generate).
REPORT_STALE_SECONDS = int(os.environ.get("REPORT_STALE_SECONDS", "900"))
# Memory per sort/hash of the KPI refresh queries (PostgreSQL, set for the refresh
# transaction only): enough for every grouping set to hash at a million tickets.
KPI_REFRESH_WORK_MEM = os.environ.get("KPI_REFRESH_WORK_MEM", "1GB")

# Defaults for the beat schedule; django-celery-beat copies them into its tables, where
# the admin can edit them.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "catalog.tasks.worker_heartbeat", "schedule": 60.0},
    "kpi-snapshots-incremental": {"task": "quality.tasks.kpi_snapshots_refresh_task", "schedule": 15 * 60.0},
    "intake-uploads-purge": {"task": "intake.tasks.import_uploads_purge_task", "schedule": crontab(hour=3, minute=30)},
    # Issue 5: the SLA sweep (escalation levels) and the deferred deliveries
    # (notices waiting for working hours, e-mails, webhook retries).
    "sla-sweep": {"task": "tickets.tasks.sla_sweep_task", "schedule": 60.0},
    "notifications-deliver": {"task": "tickets.tasks.notifications_deliver_task", "schedule": 60.0},
    # Issue 7: rules with an hourly or daily schedule (after-refresh rules run from the
    # refresh task), and the purge of old evaluation logs.
    "alerts-evaluate": {"task": "quality.tasks.alerts_evaluate_task", "schedule": 60 * 60.0},
    "alerts-evaluations-purge": {
        "task": "quality.tasks.alert_evaluations_purge_task",
        "schedule": crontab(hour=4, minute=10),
    },
    "kpi-snapshots-full": {
        "task": "quality.tasks.kpi_snapshots_refresh_task",
        "schedule": crontab(hour=2, minute=30),
        "kwargs": {"full": True},
    },
    # Issue 6: recall units whose remedy ticket was resolved become remedied.
    "recall-units-remedied-sync": {
        "task": "quality.tasks.recall_units_remedied_sync_task",
        "schedule": crontab(hour=2, minute=10),
    },
    # Issue 8: action reminders and escalations, and the recurrence watch of closed issues.
    "improvement-actions-remind": {
        "task": "improvements.tasks.actions_remind_task",
        "schedule": crontab(hour=7, minute=0),
    },
    "improvement-recurrence-watch": {
        "task": "improvements.tasks.recurrence_watch_task",
        "schedule": crontab(hour=2, minute=50),
    },
}
# KPI status: within this share of the target (at least 0.5 of the unit) is "near".
KPI_NEAR_BAND = float(os.environ.get("KPI_NEAR_BAND", "0.05"))

# Service operation (issue 5)
# A target is at risk once this share of its business time is consumed.
SLA_AT_RISK_RATIO = float(os.environ.get("SLA_AT_RISK_RATIO", "0.8"))
# Level 3: breached for this many more business hours -> the manager is told.
SLA_LEVEL3_BUSINESS_HOURS = float(os.environ.get("SLA_LEVEL3_BUSINESS_HOURS", "4"))
# The follow-up (回访) after a resolution is due this many hours later.
FOLLOW_UP_HOURS = int(os.environ.get("FOLLOW_UP_HOURS", "72"))
# A survey answer may be changed for this many days; then the link expires.
SURVEY_CHANGE_DAYS = int(os.environ.get("SURVEY_CHANGE_DAYS", "7"))
# An unanswered survey link, and a progress link, stay valid this many days.
SURVEY_LINK_DAYS = int(os.environ.get("SURVEY_LINK_DAYS", "30"))
PROGRESS_LINK_DAYS = int(os.environ.get("PROGRESS_LINK_DAYS", "90"))
# Throttle of the customer-facing pages (django-ratelimit syntax, per client address).
PUBLIC_LINK_RATE = os.environ.get("PUBLIC_LINK_RATE", "30/m")
# Outbound webhooks: attempts before a delivery is marked failed (backoff doubles).
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "6"))
# Absolute links in e-mails and copied texts (the customer links).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Monitoring (issue 7): how long every evaluation of an alert rule is kept.
ALERT_EVALUATION_RETENTION_DAYS = int(os.environ.get("ALERT_EVALUATION_RETENTION_DAYS", "90"))

# Closed-loop improvement (issue 8)
# Owners are reminded this many days before an action's due date (and escalated after it).
IMPROVEMENT_REMINDER_DAYS = int(os.environ.get("IMPROVEMENT_REMINDER_DAYS", "3"))
# After closure, failures of the same mode in the same scope are watched this many days.
IMPROVEMENT_WATCH_DAYS = int(os.environ.get("IMPROVEMENT_WATCH_DAYS", "90"))
# What a recurrence does to a closed issue: "reopen" it or "flag" it for the committee.
IMPROVEMENT_RECURRENCE_ACTION = os.environ.get("IMPROVEMENT_RECURRENCE_ACTION", "reopen")
# The TrueType CJK font embedded in PDFs (minutes, reports); Debian's fonts-wqy-zenhei.
PDF_CJK_FONT = os.environ.get("PDF_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

# /healthz (issue 10): beat counts as down when no enabled task ran for this long (the
# heartbeat runs every minute; the database scheduler saves run times every 3 minutes).
HEALTH_BEAT_MAX_AGE_SECONDS = int(os.environ.get("HEALTH_BEAT_MAX_AGE_SECONDS", "600"))
HEALTH_BROKER_TIMEOUT_SECONDS = float(os.environ.get("HEALTH_BROKER_TIMEOUT_SECONDS", "2"))
# /metrics (catalog.metrics): readable from these addresses or networks (a request through
# the proxy must come from an allowed client too), or anywhere with this bearer token.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
