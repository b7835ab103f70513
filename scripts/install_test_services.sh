#!/usr/bin/env bash
# Install the real backends the test suite runs against, from Debian's packages:
#   prometheus (brings promtool)  - dashboards' PromQL, alert rules (promtool check/test rules)
#   chromium                      - the HTML report opened headless
# Idempotent: anything already on PATH is skipped. Needs root (or sudo) and apt-get; on other
# systems it says what is missing and exits 0, and the tests that need it skip with the reason.
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_test_services: prometheus, promtool and chromium already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_test_services: no apt-get; install ${missing[*]} yourself (tests needing them skip)" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install_test_services: not root and no sudo; cannot install ${missing[*]}" >&2
    exit 0
  fi
fi

echo "install_test_services: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
# The package may start a system service where an init system runs; the tests start their own.
command -v prometheus promtool
command -v chromium || command -v chromium-browser
