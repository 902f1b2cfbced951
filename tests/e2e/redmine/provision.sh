#!/usr/bin/env bash
# Provision Redmine 5 from Debian for the Redmine end-to-end suite (idempotent).
#
# Installs Debian bookworm's `redmine` + `redmine-sqlite` (5.0.x, Ruby 3.1, Rails 6.1, SQLite;
# no database server) and `thin` (the web server Debian's Redmine Gemfile loads when present;
# without it, or Passenger, `rails server` finds none) unless already installed, then installs Deskpilot's Redmine plugin
# (webhooks/hosts/templates/redmine/deskpilot_webhooks) into /usr/share/redmine/plugins when
# the installed copy differs. Needs root for both (apt and /usr/share); when everything is
# already in place it needs nothing and changes nothing.
#
# Each test session then makes its own Redmine instance (tests/e2e/redmine/site.py): a
# REDMINE_INSTANCE directory under /var/lib/redmine with its own SQLite file, migrated and
# seeded by tests/e2e/redmine/seed.rb, served by `rails server -b 127.0.0.1 -p <free port>`.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
PLUGIN_SRC="$REPO/webhooks/hosts/templates/redmine/deskpilot_webhooks"
PLUGIN_DST="/usr/share/redmine/plugins/deskpilot_webhooks"

installed() {
    for pkg in redmine redmine-sqlite thin; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = "installed" ] || return 1
    done
}

if installed; then
    echo "redmine $(dpkg-query -W -f='${Version}' redmine) and thin already installed"
else
    if [ "$(id -u)" != 0 ]; then
        echo "redmine is not installed and installing it needs root (apt-get)" >&2
        exit 1
    fi
    start=$(date +%s)
    # dbconfig-common: SQLite, set up without questions
    debconf-set-selections <<'PRESEED'
redmine redmine/instances/default/dbconfig-install boolean true
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/db/basepath string /var/lib/dbconfig-common/sqlite3/redmine/instances/default
redmine redmine/instances/default/db/dbname string redmine_default
redmine redmine/current-instances string default
redmine redmine/default-language select en
PRESEED
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
        --no-install-recommends redmine redmine-sqlite thin >/dev/null
    installed || { echo "redmine did not install" >&2; exit 1; }
    echo "redmine $(dpkg-query -W -f='${Version}' redmine) installed in $(( $(date +%s) - start )) s"
fi

if diff -rq "$PLUGIN_SRC" "$PLUGIN_DST" >/dev/null 2>&1; then
    echo "deskpilot_webhooks plugin up to date in $PLUGIN_DST"
else
    if [ ! -w /usr/share/redmine ] && [ ! -w "$PLUGIN_DST" ]; then
        echo "cannot install the deskpilot_webhooks plugin into $PLUGIN_DST (needs root)" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$PLUGIN_DST")"
    rm -rf "$PLUGIN_DST.new"
    cp -r "$PLUGIN_SRC" "$PLUGIN_DST.new"
    rm -rf "$PLUGIN_DST"
    mv "$PLUGIN_DST.new" "$PLUGIN_DST"
    echo "deskpilot_webhooks plugin installed into $PLUGIN_DST"
fi
