#!/usr/bin/env bash
# Install the Debian packages Kinoteka needs, when they are missing (needs root/apt).
#   scripts/system-packages.sh run    what the platform runs: ffmpeg (media workers, demo clips)
#   scripts/system-packages.sh test   that, plus a real browser for the browser tests
# node/npm (for the browser libraries the app serves) come with both.
set -euo pipefail

group="${1:-test}"
# command -> Debian package
declare -A wanted=(
  [ffmpeg]=ffmpeg
  [ffprobe]=ffmpeg
  [node]=nodejs
  [npm]=npm
)
case "$group" in
  run) ;;
  test)
    wanted[chromium]=chromium
    wanted[chromedriver]=chromium-driver
    ;;
  *)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac

missing=()
for command in "${!wanted[@]}"; do
  package="${wanted[$command]}"
  if ! command -v "$command" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $package "* ]]; then
    missing+=("$package")
  fi
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
