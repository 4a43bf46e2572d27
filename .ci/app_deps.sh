#!/usr/bin/env bash
# System packages for the labelling app's tests (tests/app): Debian's Chromium
# for the end-to-end browser test. Playwright's own browser download is not
# used (it needs network access CI may not have); the test finds
# /usr/bin/chromium, or DEFECTLAB_CHROMIUM. Python packages (fastapi, uvicorn,
# httpx, playwright) come from the project's [test] extra, which .ci/run installs.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -n "${DEFECTLAB_CHROMIUM:-}" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Recommends stay on: they bring the fonts the page's screenshot is rendered with.
$SUDO apt-get install -y -q chromium
chromium --version || true
