#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shared steps of deploy/run.sh, deploy/install.sh and tests/run.sh: install the Debian
# packages a build needs (idempotently) and build tern with meson. Source it; it defines
# functions and TERN_ROOT and changes nothing else.

# The repository root: this file lives in deploy/.
TERN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TERN_ROOT

# What any build of tern needs (read by the scripts that source this file).
# shellcheck disable=SC2034
TERN_BUILD_PACKAGES=(build-essential meson ninja-build pkg-config liburcu-dev libjemalloc-dev
	libcmocka-dev mosquitto-clients)
TERN_BUILD_PACKAGES+=(libssl-dev) # OpenSSL 3: password file hashes (libcrypto), TLS listeners
# bench/micro: the Google Benchmark harnesses (built when found, see bench/micro/meson.build).
TERN_BUILD_PACKAGES+=(libbenchmark-dev)
# The DPDK dataplane (built when meson finds libdpdk-dev; dpdk has dpdk-devbind.py).
TERN_BUILD_PACKAGES+=(libdpdk-dev dpdk)
# The sock dataplane's batched sends (dataplane/sock/uring.c; sendmsg when missing).
TERN_BUILD_PACKAGES+=(liburing-dev)

tern_log() {
	printf 'tern: %s\n' "$*" >&2
}

# Run a command as root: directly when we are root, else through sudo.
tern_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		tern_log "need root for: $*"
		return 1
	fi
}

# True if the Debian package is installed (not just known or half-removed).
tern_pkg_installed() {
	local status
	status="$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" || return 1
	[ "$status" = "installed" ]
}

# tern_ensure_packages PKG...: install the packages not yet installed; apt-get update only
# when something is missing, so a ready machine needs no network.
tern_ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		tern_pkg_installed "$pkg" || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	tern_log "installing ${missing[*]}"
	tern_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	tern_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}"
}

# tern_build BUILD_DIR [MESON_OPTION...]: configure BUILD_DIR (reconfigure if it exists) with
# the given options and build it with ninja. Returns non-zero if either step fails.
tern_build() {
	local dir="$1"
	shift
	cd "$TERN_ROOT" || return 1
	# Explicit returns: callers may run this under `if`, where set -e does not apply.
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" || return 1
	else
		meson setup "$dir" "$@" || return 1
	fi
	ninja -C "$dir" || return 1
}
