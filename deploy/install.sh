#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install tern as a systemd service: build, `meson install` into /usr/local, create the
# system user tern, install the unit and (only if none exists) /etc/tern/tern.conf.
# Run as root (or with sudo available).
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir="${BUILD_DIR:-build}"
conf_dir=/etc/tern
unit_dir=/etc/systemd/system

tern_ensure_packages "${TERN_BUILD_PACKAGES[@]}"
tern_build "$build_dir" --prefix=/usr/local
cd "$TERN_ROOT"
tern_as_root meson install -C "$build_dir" --no-rebuild

if [ ! -x /usr/local/bin/tern ]; then
	tern_log "meson install did not install /usr/local/bin/tern"
	exit 1
fi

if ! getent passwd tern >/dev/null; then
	tern_log "creating system user tern"
	tern_as_root useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --comment "tern MQTT broker" tern
fi

tern_as_root install -d -m 0755 "$conf_dir"
if [ -e "$conf_dir/tern.conf" ]; then
	tern_log "keeping the existing $conf_dir/tern.conf (the sample is deploy/tern.conf)"
else
	tern_as_root install -m 0644 deploy/tern.conf "$conf_dir/tern.conf"
fi
tern_as_root install -D -m 0644 deploy/tern.service "$unit_dir/tern.service"

# Only a running systemd can reload units (not in a container or chroot).
if [ -d /run/systemd/system ]; then
	tern_as_root systemctl daemon-reload
fi

cat <<MSG
tern is installed:
  binary   /usr/local/bin/tern
  config   $conf_dir/tern.conf
  unit     $unit_dir/tern.service
Start it now and at every boot with:
  sudo systemctl enable --now tern
Then check it with:
  systemctl status tern; journalctl -u tern -f
  mosquitto_sub -t 'test/topic' -v &  mosquitto_pub -t 'test/topic' -m 'hello world'
MSG
