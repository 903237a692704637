#!/usr/bin/env bash
# The MQTT reference broker: Debian's mosquitto (2.0 here), with its websockets listener built
# in. The tests start a broker of their own on free loopback ports with a configuration of
# their own (tests/support/reference_mqtt.py); the package's own service is not wanted: on a
# host with systemd the package starts it, listening on port 1883 for as long as the machine
# runs. .ci/run runs this as root; without root or apt-get it does nothing and the MQTT tests
# skip with the reason.
set -uo pipefail
if command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-mqtt.sh: mosquitto is not installed and this is not root with apt-get" >&2
  exit 1
fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
              mosquitto >/dev/null 2>&1; }
install || { apt-get update -qq >/dev/null 2>&1 && install; } || {
  echo "install-mqtt.sh: could not install mosquitto" >&2
  exit 1
}
# stop and disable the service the package may have started, by its own service commands
if [ -d /run/systemd/system ]; then
  systemctl disable --now mosquitto >/dev/null 2>&1 || true
else
  service mosquitto stop >/dev/null 2>&1 || true
fi
exit 0
