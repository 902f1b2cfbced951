#!/usr/bin/env bash
# The one test command (README): installs into .venv, then ruff, mypy and each pytest suite.
# Suites that need Redis/PostgreSQL/chromium/django-helpdesk skip outside CI when those are
# absent, with the reason; with CI=true they must run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || exit 1
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]' || exit 1

status=0
declare -a summary
run_step() {  # name, command...
  local name=$1; shift
  local start end rc
  start=$(date +%s)
  echo "=== $name"
  "$@"; rc=$?
  # pytest exit 5 = "no tests collected" in a suite that has none yet: not a failure
  if [ "$rc" -eq 5 ]; then rc=0; fi
  end=$(date +%s)
  summary+=("$(printf '%-14s %4ss  %s' "$name" $((end - start)) "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
  [ "$rc" -eq 0 ] || status=1
}

run_step ruff .venv/bin/ruff check plugin webhooks rules tests bench
run_step mypy .venv/bin/mypy
run_step "import contracts" .venv/bin/lint-imports --no-cache
run_step "rules check" .venv/bin/deskpilot rules check config
run_step "rules test" .venv/bin/deskpilot rules test config
for suite in unit integration security fuzz e2e browser chaos; do
  [ -d "tests/$suite" ] || continue
  run_step "pytest $suite" .venv/bin/python -m pytest -q -p no:cacheprovider "tests/$suite"
done

echo
echo "=== suite durations"
printf '%s\n' "${summary[@]}"
exit $status
