#!/usr/bin/env bash
# The lab of `make lab`: podman containers of a gateway and two laptops, converged with
# playbooks/site.yml, then each tunnel shown passing IPv6.  Usage: lab.sh up|down
set -euo pipefail
cd "$(dirname "$0")/../.."
network=sixtunnel-lab
gateway=sixtunnel-lab-gateway
laptops=(sixtunnel-lab-laptop1 sixtunnel-lab-laptop2)
site_address=2001:db8:abba::1

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
  podman exec "$name" systemctl is-system-running --wait >/dev/null || true
}

show() { echo "+ $*"; "$@"; }

case ${1:-} in
  up)
    podman network exists "$network" || podman network create --ipv6 "$network" >/dev/null
    start_container "$gateway"
    for laptop in "${laptops[@]}"; do start_container "$laptop"; done
    # A site address beyond the tunnels, so laptops prove they reach the site, not just the gateway end.
    podman exec "$gateway" ip -6 addr replace "$site_address/128" dev lo
    ansible-playbook -i inventories/lab playbooks/site.yml
    echo
    echo "== Tunnels (ledger: inventories/lab/sixtunnel-ledger.yml)"
    for laptop in "${laptops[@]}"; do
      interface=$(podman exec "$laptop" sed -n 's/^dev //p' /etc/openvpn/client/sixtunnel.conf)
      gateway_end=$(podman exec "$laptop" ip -6 route show table all 2000::/3 | sed -n 's/.*via \([^ ]*\).*/\1/p')
      echo "== $laptop ($interface)"
      show podman exec "$laptop" ip -6 -brief addr show dev "$interface"
      show podman exec "$laptop" ip -6 route show table all 2000::/3
      for attempt in $(seq 20); do
        podman exec "$laptop" ping -6 -c 1 -W 1 "$gateway_end" >/dev/null 2>&1 && break
        sleep 1
      done
      show podman exec "$laptop" ping -6 -c 3 "$gateway_end"
      show podman exec "$laptop" ping -6 -c 3 "$site_address"
    done
    echo "== $gateway"
    show podman exec "$gateway" ip -6 -brief addr show
    show podman exec "$gateway" ip -6 route show proto boot
    echo "Lab is up: every tunnel passed ping6. Re-run 'make lab' any time; 'make lab-clean' removes it."
    ;;
  down)
    podman rm -f -t 2 "$gateway" "${laptops[@]}" >/dev/null 2>&1 || true
    podman network rm "$network" >/dev/null 2>&1 || true
    rm -f inventories/lab/sixtunnel-ledger.yml
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
