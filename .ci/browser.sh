#!/usr/bin/env bash
# The storefront and the console in a real browser: Playwright (tests/browser/) driving Debian's chromium
# against the real binary; each test starts its own `boxoffice serve` on a free port with a
# temporary database. Installs what is missing: chromium with apt-get when /usr/bin/chromium
# is absent (BOXOFFICE_CHROMIUM names another), and the pinned Node packages with `npm ci`.
# Usage: .ci/browser.sh [path to the boxoffice binary]   (default: target/debug/boxoffice)
# Builds nothing itself. The screenshots go to tests/browser/test-results/screenshots/, so a
# run changes no tracked file; BOXOFFICE_SCREENSHOTS_DIR=docs/screenshots refreshes the
# committed ones (look at them before committing).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/debug/boxoffice}
[[ -x $bin ]] || { echo "no boxoffice binary at $bin: cargo build first" >&2; exit 1; }
export BOXOFFICE_BIN
BOXOFFICE_BIN=$(realpath "$bin")

export BOXOFFICE_SCREENSHOTS_DIR
BOXOFFICE_SCREENSHOTS_DIR=$(realpath -m "${BOXOFFICE_SCREENSHOTS_DIR:-tests/browser/test-results/screenshots}")

export BOXOFFICE_CHROMIUM=${BOXOFFICE_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $BOXOFFICE_CHROMIUM ]]; then
  echo "no chromium at $BOXOFFICE_CHROMIUM; installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or later" >&2; exit 1; }

# Playwright's own browser download is not used (and does not work everywhere).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd tests/browser
if [[ ! -d node_modules/@playwright/test || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
"$BOXOFFICE_CHROMIUM" --version
npx playwright test
