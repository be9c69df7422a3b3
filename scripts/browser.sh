#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium (browser tests and screenshots drive it
# through Playwright; `playwright install` would download a browser build, which we never do).
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
echo "installing Debian's chromium (browser tests and screenshots use it)..."
sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "error: /usr/bin/chromium is missing; install it with 'apt-get install chromium' as root" >&2; exit 2; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
