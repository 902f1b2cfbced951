#!/usr/bin/env bash
# Provision the django-helpdesk virtualenv the end-to-end tests drive (idempotent).
#
# Django stays OUT of the project's own venv: the helpdesk is a separate program the tests
# talk to over HTTP, exactly as a real installation would. The venv is reused when it already
# has the pinned version, so calling this from .ci/run costs nothing after the first time.
set -euo pipefail

VERSION="2.6.1"
VENV="${DESKPILOT_E2E_VENV:-$HOME/.cache/deskpilot/dh-venv}"
PYTHON="${DESKPILOT_E2E_PYTHON:-python3}"

installed() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" - "$VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version

sys.exit(0 if version("django-helpdesk") == sys.argv[1] else 1)
EOF
}

if installed; then
    echo "django-helpdesk $VERSION ready in $VENV"
    exit 0
fi

echo "creating the django-helpdesk $VERSION virtualenv in $VENV"
mkdir -p "$(dirname "$VENV")"
# an interrupted earlier run fails the check above, so it is rebuilt from scratch here
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet "django-helpdesk==$VERSION"
installed || { echo "django-helpdesk $VERSION did not install into $VENV" >&2; exit 1; }
echo "django-helpdesk $VERSION ready in $VENV"
