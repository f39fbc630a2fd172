#!/usr/bin/env bash
# Installs the Debian 12 packages the lab and the tests need, only those missing: podman and debootstrap for the
# lab and Molecule, python3-venv for the virtualenvs, shellcheck for ansible-test sanity (make lint).
set -euo pipefail
packages=(podman runc netavark aardvark-dns iptables debootstrap python3-venv uidmap shellcheck)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}; run as root or install them first." >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
