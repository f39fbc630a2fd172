#!/usr/bin/env bash
# Prints the path of a containers.conf for hosts whose podman defaults fail, or nothing.
# cgroups v1/hybrid: crun refuses, runc works. A low hard nofile limit: podman's default
# ulimits fail with "setrlimit ... Operation not permitted". A normal cgroup-v2 host needs neither.
set -euo pipefail
conf_dir=${1:?usage: containers-conf.sh CACHE_DIR}
system_conf=/usr/share/containers/containers.conf

needs_runc=false
[ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || needs_runc=true
hard_nofile=$(ulimit -Hn)
needs_ulimits=false
[ "$hard_nofile" = unlimited ] || [ "$hard_nofile" -ge 1048576 ] || needs_ulimits=true
$needs_runc || $needs_ulimits || exit 0

# Podman 4.3 replaces, not merges, these lists when a containers.conf names them: copy the system ones.
copy_list() {
  [ -r "$system_conf" ] || return 0
  sed -n "/^$1 = \[/,/^\]/p" "$system_conf"
}

mkdir -p "$conf_dir"
conf="$conf_dir/containers.conf"
{
  echo "# Written by tests/podman/containers-conf.sh for this host's cgroups and limits."
  echo "[containers]"
  copy_list default_capabilities
  copy_list default_sysctls
  if $needs_ulimits; then
    nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] && nproc=4096
    [ "$nproc" -gt 4096 ] && nproc=4096
    echo "default_ulimits = [\"nofile=$hard_nofile:$hard_nofile\", \"nproc=$nproc:$nproc\"]"
  fi
  echo "[engine]"
  if $needs_runc; then echo 'runtime = "runc"'; fi
} > "$conf.tmp"
mv "$conf.tmp" "$conf"
echo "$conf"
