#!/usr/bin/env bash
# Installs the Debian 12 packages roofline builds against, only those that are missing.
# Usage: scripts/install-deps.sh   (runs apt-get through sudo when not root)
set -euo pipefail
pkgs=(cmake g++ make libeigen3-dev nlohmann-json3-dev libyaml-cpp-dev doctest-dev libcli11-dev
      libbenchmark-dev librsvg2-bin python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
