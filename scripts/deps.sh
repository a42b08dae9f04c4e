#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine, only where missing:
# mosquitto (broker + clients) from Debian, ACME CSE in a venv from PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need=()
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
# dpkg-query, not dpkg -s: with foreign architectures added (cross builds) `dpkg -s NAME` is ambiguous.
installed() { dpkg-query -W -f='${db:Status-Abbrev}\n' "$1" 2>/dev/null | grep -q '^ii'; }
for pkg in "$@"; do installed "$pkg" || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A mirror hiccup in update must not stop an install that can still succeed from the lists we have.
  apt-get update -qq || echo "deps: apt-get update reported errors; trying the install anyway"
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$here/acme.sh" install
