#!/usr/bin/env bash
# The system packages the whole test suite needs, installed when missing (Debian/Ubuntu, as root):
# Chromium for the dashboard's browser tests (driven by playwright-core; nothing downloads a
# browser), python3 with venv for the Python SDK's tests, PostgreSQL for the Postgres store
# suite, and Slurm with munge for the slurm provider's tests. `npm test` runs this first, so the
# README's test command works on a fresh machine; without root or apt it says what is missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
{ command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null 2>&1 || missing+=(slurm-wlm munge)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  exit 0
fi
echo "test-deps: the test suite needs these packages: ${missing[*]}" >&2
echo "test-deps: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run npm test again." >&2
exit 1
