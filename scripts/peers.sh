#!/usr/bin/env bash
# Installs the Debian packages behind Altimeter's real test peers. Idempotent:
# does nothing when everything is present. Package scripts must not start the
# distro's own services (they would take the standard ports), so a temporary
# policy-rc.d refuses them.
set -euo pipefail

pkgs=(prometheus chromium snmpd snmp libvirt-daemon libvirt-clients openipmi ipmitool rabbitmq-server
      protobuf-compiler libprotobuf-dev iproute2 curl python3-msgpack python3-ceilometer victoria-metrics
      python3-gnocchi gnocchi-api gnocchi-metricd postgresql uwsgi-plugin-python3 python3-aodhclient)
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
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "peers: done"
