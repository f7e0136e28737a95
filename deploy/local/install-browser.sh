#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/ui/test_browser.py). Idempotent.
# Playwright drives this system browser; it never downloads a browser build of its own.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium déjà installé : $(command -v chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get introuvable : installez Chromium avec le gestionnaire de paquets du système." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "chromium installé : $(command -v chromium)"
