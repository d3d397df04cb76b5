#!/usr/bin/env bash
# Install headless Chromium for the report's browser tests (tests/explain/test_report_browser.py).
# Idempotent: does nothing when a Chromium binary is already on PATH. Debian/Ubuntu only (apt-get).
set -euo pipefail

for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if path="$(command -v "$name" 2>/dev/null)"; then
        echo "install-chromium: already installed: $path ($("$path" --version 2>/dev/null || echo 'version unknown'))"
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: chromium is missing and this is not root; install it with" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium" >&2
    echo "install-chromium: the browser tests will be skipped." >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get here; install Chromium by hand. The browser tests will be skipped." >&2
    exit 0
fi

echo "install-chromium: installing the Debian package 'chromium' with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium
echo "install-chromium: installed: $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
