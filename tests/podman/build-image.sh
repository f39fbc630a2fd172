#!/usr/bin/env bash
# Builds the test images locally (no container registry is reachable) and prints the image's name:
#   build-image.sh CACHE_DIR                     Debian 12 with OpenVPN 2.6: the lab and every scenario run on it
#   build-image.sh CACHE_DIR debian13            Debian 13 with its OpenVPN 2.6 (scenario default runs on it too)
#   build-image.sh CACHE_DIR debian13-openvpn27  Debian 13 with OpenVPN 2.7 from trixie-backports (scenario default
#                                                on it, beside 2.6 peers, and the upgrade of a 2.6 configuration)
# The tag carries a hash of the package lists, so a changed list builds a new image once.
set -euo pipefail
cache_dir=${1:?usage: build-image.sh CACHE_DIR [debian13|debian13-openvpn27]}
flavour=${2:-debian12}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# python3-apt for Ansible's apt module; openssl makes the peer-fingerprint certificates;
# radvd plays the router of the real_networks scenario; openssh-server and sudo let Ansible in the way a site
# does (tests/podman/ssh-access.sh makes the account); the rest are the tools the tests and benchmarks drive
# inside the containers.
packages=systemd,systemd-sysv,python3,python3-apt,iproute2,openvpn,openssl,iputils-ping,iputils-tracepath,traceroute,nftables,iperf3,procps,netcat-openbsd,tcpdump,radvd,openssh-server,sudo
backports=
command='["/sbin/init"]'
case "$flavour" in
  debian12)
    name=sixtunnel-debian12
    suite=bookworm
    ;;
  debian13)
    name=sixtunnel-debian13
    suite=trixie
    ;;
  debian13-openvpn27)
    name=sixtunnel-debian13-openvpn27
    suite=trixie
    backports=openvpn
    ;;
  *)
    echo "unknown image: $flavour (debian12, debian13 or debian13-openvpn27)" >&2
    exit 2
    ;;
esac
# Every container makes its own SSH host keys at its first boot (sshd's drop-in below); none are shared.
ssh_dropin='[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n'
case ",$packages," in *,openssh-server,*) ;; *) ssh_dropin= ;; esac
# The tag hashes what goes into the image: a changed list or drop-in builds a new image once.
tag=$(printf '%s' "$packages${backports:+ backports:$backports}${ssh_dropin:+ ssh:$ssh_dropin}" | sha256sum | cut -c1-12)
image=localhost/$name:$tag

if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
rootfs="$cache_dir/rootfs-$name-$tag"
rm -rf "$rootfs"
mkdir -p "$cache_dir"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >&2
if [ -n "$backports" ]; then
  printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: %s\n' \
    "$mirror" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg >"$rootfs/etc/apt/sources.list.d/backports.sources"
  # apt in the chroot resolves the mirror with the host's resolver; the image must not keep it.
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  chroot "$rootfs" apt-get update -qq >&2
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq --no-install-recommends -t "$suite-backports" $backports >&2
  # apt-get update left ~90 MB of package caches behind.
  chroot "$rootfs" apt-get clean
  rm -f "$rootfs/etc/resolv.conf"
fi
# No daemon started at build time should stay enabled in the image: the roles enable what they need.
chroot "$rootfs" systemctl disable openvpn.service nftables.service radvd.service >/dev/null 2>&1 || true
if [ -n "$ssh_dropin" ]; then
  rm -f "$rootfs"/etc/ssh/ssh_host_*
  mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
  # shellcheck disable=SC2059 # the drop-in is the format: its \n are newlines
  printf "$ssh_dropin" >"$rootfs/etc/systemd/system/ssh.service.d/host-keys.conf"
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change "CMD $command" - "$image" >&2
rm -rf "$rootfs"
echo "$image"
