#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: Chromium (and fonts for the UI's emoji) for the
# browser tests (tests/ui/test_browser.py), shellcheck for the deployment scripts
# (tests/deploy/test_gpu_check.py), Tesseract with its French model for the OCR of scanned PDFs
# (indexing/ocr.py, also needed in production to read scanned documents), LibreOffice Writer and the
# French hyphenation patterns for the office-made PDFs of the real-world test set (bench/renderings.py).
# Idempotent: installs only what is missing.
# Playwright drives this system browser; it never downloads a browser build of its own.
set -euo pipefail

PACKAGES=(chromium fonts-dejavu-core fonts-noto-color-emoji shellcheck tesseract-ocr tesseract-ocr-fra
          libreoffice-writer-nogui hyphen-fr)
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "Outils de test déjà installés : $(command -v chromium), $(command -v shellcheck), $(command -v tesseract), $(command -v soffice)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get introuvable : installez ${missing[*]} avec le gestionnaire de paquets du système." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "Installé : ${missing[*]} ($(command -v chromium))"
