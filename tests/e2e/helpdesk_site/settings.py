"""A minimal Django project around django-helpdesk 2.6.1 for Deskpilot's end-to-end tests.

Runs only inside the helpdesk's own virtualenv (never imported by the project's tests).
Everything that differs per run comes from the environment the harness sets:
``DH_DB_PATH`` (the SQLite file), ``DH_WEBHOOK_URL`` (Deskpilot's token URL) and
``DH_TIME_ZONE`` (the helpdesk's own ``TIME_ZONE``, default UTC).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "deskpilot-e2e-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DH_DB_PATH", str(BASE_DIR / "helpdesk.sqlite3")),
        # The helpdesk posts its webhook inside the request while Deskpilot's worker writes
        # back at the same moment: wait for SQLite's lock instead of failing, and take it at
        # BEGIN so two writers never deadlock upgrading a read lock.
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = os.environ.get("DH_TIME_ZONE", "UTC")
LANGUAGE_CODE = "en-us"
STATIC_URL = "/static/"
SITE_ID = 1
LOGIN_URL = "/helpdesk/login/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
}

# django-helpdesk: no pinax-teams, API on, webhooks through the settings callables (the
# followup environment variable has a comma-splitting quirk, see HOSTS.md §5).
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True


def _webhook_urls():
    url = os.environ.get("DH_WEBHOOK_URL")
    return [url] if url else []


HELPDESK_GET_NEW_TICKET_WEBHOOK_URLS = _webhook_urls
HELPDESK_GET_FOLLOWUP_WEBHOOK_URLS = _webhook_urls

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
