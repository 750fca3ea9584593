#!/usr/bin/env bash
# Install the Debian packages the app and its tests need, when they are missing (needs root/apt):
# a real browser, ffmpeg, and node/npm for the browser libraries the app serves.
set -euo pipefail

# command -> Debian package
declare -A wanted=(
  [chromium]=chromium
  [chromedriver]=chromium-driver
  [ffmpeg]=ffmpeg
  [node]=nodejs
  [npm]=npm
)

missing=()
for command in "${!wanted[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "==> installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
