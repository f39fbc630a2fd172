#!/usr/bin/env bash
# Lets Ansible reach test containers the way a site reaches its hosts: SSH to a personal account without root,
# which becomes root with sudo. podman exec makes that account (as a provisioning system would) and waits for
# the container's boot; everything after goes over SSH.
#   ssh-access.sh DIR CONTAINER...
# DIR gets this run's key pair (id_ed25519, made once, never committed: DIR is under .cache or Molecule's
# ephemeral directory), known_hosts with each container's own host keys (made at its first boot, see
# build-image.sh) and ssh_config with one Host block per container: `ssh -F DIR/ssh_config CONTAINER` logs in.
# Prints "CONTAINER ADDRESS USER" per container. The address is the container's first IPv4 address, else its
# first global IPv6 one; podman hands out a new one on restart, so callers run this again after a restart.
# Molecule's delegated driver passes StrictHostKeyChecking=no itself; the lab and the benchmarks check host keys.
set -euo pipefail
dir=${1:?usage: ssh-access.sh DIR CONTAINER...}
shift
user=${SIXTUNNEL_SSH_USER:-netadmin}
mkdir -p "$dir"
chmod 0700 "$dir"
# Absolute, so ssh_config works from any directory.
dir=$(cd "$dir" && pwd)
key=$dir/id_ed25519
[ -e "$key" ] || ssh-keygen -q -t ed25519 -N '' -C "sixtunnel-tests@$(hostname)" -f "$key"
public_key=$(cat "$key.pub")

for container in "$@"; do
  # systemd must be up before sshd is; "degraded" is as good as "running" here. Early in a boot systemctl cannot
  # reach systemd's bus yet and returns at once: ask again.
  for _ in $(seq 60); do
    case $(podman exec "$container" systemctl is-system-running --wait 2>/dev/null) in
      running | degraded) break ;;
    esac
    sleep 1
  done
  podman exec -i "$container" sh -s -- "$user" "$public_key" <<'EOF'
set -eu
user=$1
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
printf '%s\n' "$2" >"$home/.ssh/authorized_keys"
chown "$user:$user" "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
# A fixed name: sudo skips files in sudoers.d whose name holds a dot.
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$user" >/etc/sudoers.d/sixtunnel-tests
chmod 0440 /etc/sudoers.d/sixtunnel-tests
visudo -cqf /etc/sudoers.d/sixtunnel-tests
for _ in $(seq 60); do
  systemctl is-active --quiet ssh.service && break
  systemctl start ssh.service 2>/dev/null || sleep 1
done
systemctl is-active --quiet ssh.service
EOF
done

: >"$dir/ssh_config.new"
: >"$dir/known_hosts.new"
for container in "$@"; do
  address=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$container" | awk '{print $1}')
  [ -n "$address" ] ||
    address=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}} {{end}}' "$container" | awk '{print $1}')
  [ -n "$address" ] || { echo "ssh-access.sh: $container has no address" >&2; exit 1; }
  scanned=
  for _ in $(seq 30); do
    scanned=$(ssh-keyscan -T 2 "$address" 2>/dev/null) && [ -n "$scanned" ] && break
    sleep 0.5
  done
  [ -n "$scanned" ] || { echo "ssh-access.sh: no SSH server answers on $container ($address)" >&2; exit 1; }
  # Keyed by the container's name (HostKeyAlias), so a new address after a restart keeps the same entry.
  printf '%s\n' "$scanned" | awk -v name="$container" '{ $1 = name; print }' >>"$dir/known_hosts.new"
  cat >>"$dir/ssh_config.new" <<EOF
Host $container
  HostName $address
  User $user
  IdentityFile $key
  IdentitiesOnly yes
  HostKeyAlias $container
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes

EOF
  echo "$container $address $user"
done
mv "$dir/ssh_config.new" "$dir/ssh_config"
mv "$dir/known_hosts.new" "$dir/known_hosts"
