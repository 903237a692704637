#!/usr/bin/env bash
# The STOMP reference server: Debian's rabbitmq-server (its Web STOMP plugin ships with it).
# The tests start a node of their own on free loopback ports (tests/support/reference_stomp.py);
# the package's own service is not wanted: on a host with systemd the package starts it,
# holding ports 5672, 25672 and 4369 (epmd) for as long as the machine runs. .ci/run runs this
# as root; without root or apt-get it does nothing and the STOMP tests skip with the reason.
set -uo pipefail
if command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-stomp.sh: rabbitmq-server is not installed and this is not root with apt-get" >&2
  exit 1
fi
# Erlang's port mapper: the package's scripts start one (listening on every address) that
# outlives them; stopped below unless one ran before (another Erlang program's)
epmd_before=$(pgrep -x epmd >/dev/null && echo yes || echo no)
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
              rabbitmq-server >/dev/null 2>&1; }
install || { apt-get update -qq >/dev/null 2>&1 && install; } || {
  echo "install-stomp.sh: could not install rabbitmq-server" >&2
  exit 1
}
# stop and disable the service the package may have started, by its own service commands
if [ -d /run/systemd/system ]; then
  systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
  if [ "$epmd_before" = no ]; then
    systemctl disable --now epmd.socket epmd.service >/dev/null 2>&1 || true
  fi
else
  service rabbitmq-server stop >/dev/null 2>&1 || true
fi
if [ "$epmd_before" = no ] && command -v epmd >/dev/null; then
  epmd -kill >/dev/null 2>&1 || true
fi
exit 0
