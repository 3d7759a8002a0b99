#!/usr/bin/env bash
# Installs the Debian packages behind Altimeter's real test peers. Idempotent:
# does nothing when everything is present. Package scripts must not start the
# distro's own services (they would take the standard ports), so a temporary
# policy-rc.d refuses them. Every apt-get waits up to 10 minutes for the dpkg
# and apt lists locks, which unattended-upgrades holds on a fresh cloud machine:
# install waits through DPkg::Lock::Timeout; update (whose lists lock apt 2.6
# does not wait for) is retried while apt reports a held lock.
set -euo pipefail

pkgs=(prometheus chromium snmpd snmp libvirt-daemon libvirt-clients openipmi ipmitool rabbitmq-server
      protobuf-compiler libprotobuf-dev iproute2 curl python3-msgpack python3-ceilometer victoria-metrics
      python3-gnocchi gnocchi-api gnocchi-metricd postgresql uwsgi-plugin-python3 python3-aodhclient
      python3-pankoclient python3-openstackclient systemd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "peers: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
cleanup=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  cleanup=1
fi
trap '[ $cleanup -eq 1 ] && $sudo rm -f /usr/sbin/policy-rc.d' EXIT
apt_update() {
  local deadline=$((SECONDS + 600)) out
  while :; do
    if out=$($sudo apt-get -o DPkg::Lock::Timeout=600 update -qq 2>&1); then
      [ -z "$out" ] || echo "$out"
      return 0
    fi
    if ! grep -q "Could not get lock" <<<"$out" || [ $SECONDS -ge $deadline ]; then
      echo "$out" >&2
      return 1
    fi
    echo "peers: waiting for the apt lock" >&2
    sleep 5
  done
}
apt_update
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "peers: done"
