#!/usr/bin/env bash
# Builds the Debian 12 image the lab and Molecule use, locally: no container registry is reachable.
# The tag carries a hash of the package list, so a changed list builds a new image once.
set -euo pipefail
cache_dir=${1:?usage: build-image.sh CACHE_DIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# python3-apt for Ansible's apt module; openssl makes the peer-fingerprint certificates;
# the rest are the tools the tests and benchmarks drive inside the containers.
packages=systemd,systemd-sysv,python3,python3-apt,iproute2,openvpn,openssl,iputils-ping,iputils-tracepath,traceroute,nftables,iperf3,procps,netcat-openbsd,tcpdump
tag=$(printf '%s' "$packages" | sha256sum | cut -c1-12)
image=localhost/sixtunnel-debian12:$tag

if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
rootfs="$cache_dir/rootfs-$tag"
rm -rf "$rootfs"
mkdir -p "$cache_dir"
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >&2
# No daemon started at build time should stay enabled in the image: the roles enable what they need.
chroot "$rootfs" systemctl disable openvpn.service nftables.service >/dev/null 2>&1 || true
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' - "$image" >&2
rm -rf "$rootfs"
echo "$image"
