#!/usr/bin/env bash
# The lab of `make lab`: podman containers of a gateway and two laptops, converged with
# playbooks/site.yml, then each tunnel shown passing IPv6.  Usage: lab.sh up|down
# Ansible reaches the containers as a site reaches its hosts: SSH to the account netadmin, sudo to root
# (ssh-access.sh; key, known_hosts and ssh_config in .cache/lab). Log in with: ssh -F .cache/lab/ssh_config NAME
set -euo pipefail
cd "$(dirname "$0")/../.."
network=sixtunnel-lab
gateway=sixtunnel-lab-gateway
laptops=(sixtunnel-lab-laptop1 sixtunnel-lab-laptop2)
site_address=2001:db8:abba::1
ssh_dir=.cache/lab
lab_ssh() { ssh -F "$ssh_dir/ssh_config" "$@"; }

start_container() {
  local name=$1; shift
  # /proc/sys is read-only in a container: IPv6 forwarding (gateway, routing laptop) is set at start.
  if podman container exists "$name"; then
    podman start "$name" >/dev/null
  else
    podman run -d --name "$name" --hostname "$name" --network "$network" \
      --systemd always --cap-add NET_ADMIN --device /dev/net/tun \
      --sysctl net.ipv6.conf.all.forwarding=1 "$@" "$SIXTUNNEL_IMAGE" /sbin/init >/dev/null
  fi
}

show() { echo "+ $*"; "$@"; }

case ${1:-} in
  up)
    podman network exists "$network" || podman network create --ipv6 "$network" >/dev/null
    start_container "$gateway"
    for laptop in "${laptops[@]}"; do start_container "$laptop"; done
    # Every start: podman may have handed out new addresses.
    tests/podman/ssh-access.sh "$ssh_dir" "$gateway" "${laptops[@]}" >/dev/null
    # A site address beyond the tunnels, so laptops prove they reach the site, not just the gateway end.
    lab_ssh "$gateway" sudo ip -6 addr replace "$site_address/128" dev lo
    ansible-playbook -i inventories/lab playbooks/site.yml
    echo
    echo "== Tunnels (ledger: inventories/lab/.sixtunnel/ledger.yml)"
    for laptop in "${laptops[@]}"; do
      interface=$(lab_ssh "$laptop" sudo sed -n "'s/^dev //p'" /etc/openvpn/client/sixtunnel.conf)
      gateway_end=$(lab_ssh "$laptop" ip -6 route show table all 2000::/3 | sed -n 's/.*via \([^ ]*\).*/\1/p')
      echo "== $laptop ($interface)"
      show ssh -F "$ssh_dir/ssh_config" "$laptop" ip -6 -brief addr show dev "$interface"
      show ssh -F "$ssh_dir/ssh_config" "$laptop" ip -6 route show table all 2000::/3
      for _ in $(seq 20); do
        lab_ssh "$laptop" sudo ping -6 -c 1 -W 1 "$gateway_end" >/dev/null 2>&1 && break
        sleep 1
      done
      show ssh -F "$ssh_dir/ssh_config" "$laptop" sudo ping -6 -c 3 "$gateway_end"
      show ssh -F "$ssh_dir/ssh_config" "$laptop" sudo ping -6 -c 3 "$site_address"
    done
    echo "== $gateway"
    show ssh -F "$ssh_dir/ssh_config" "$gateway" ip -6 -brief addr show
    show ssh -F "$ssh_dir/ssh_config" "$gateway" ip -6 route show proto boot
    echo "Lab is up: every tunnel passed ping6. Log in: ssh -F $ssh_dir/ssh_config $gateway"
    echo "Re-run 'make lab' any time; 'make lab-clean' removes it."
    ;;
  down)
    podman rm -f -t 2 "$gateway" "${laptops[@]}" >/dev/null 2>&1 || true
    podman network rm "$network" >/dev/null 2>&1 || true
    rm -rf inventories/lab/.sixtunnel inventories/lab/sixtunnel-ledger.yml
    rm -rf "$ssh_dir"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
