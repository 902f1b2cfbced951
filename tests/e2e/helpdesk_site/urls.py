"""URLs of the e2e helpdesk: the helpdesk (UI and REST API) under /helpdesk/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("helpdesk/", include("helpdesk.urls")),
]
