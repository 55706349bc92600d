#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hugepages for the DPDK dataplane: reserve PAGES 2 MiB pages (vm.nr_hugepages,
# default 1024 = 2 GiB) and mount hugetlbfs at /dev/hugepages. Idempotent: a
# reservation already as large and an existing mount are left alone. Pass
# --persist to also write /etc/sysctl.d/60-tern-hugepages.conf and an fstab
# line so the setup survives a reboot. Binding the NIC (dpdk-devbind.py) is
# left to the operator: README, "DPDK dataplane".
# Usage: deploy/dpdk-setup.sh [PAGES] [--persist]
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pages=1024
persist=""
for arg in "$@"; do
	case "$arg" in
	--persist) persist=1 ;;
	'' | *[!0-9]*)
		echo "usage: $0 [PAGES] [--persist]" >&2
		exit 2
		;;
	*) pages="$arg" ;;
	esac
done

mnt=/dev/hugepages
have="$(cat /proc/sys/vm/nr_hugepages)"
if [ "$have" -lt "$pages" ]; then
	tern_log "reserving $pages hugepages (had $have)"
	tern_as_root sysctl -qw "vm.nr_hugepages=$pages"
	have="$(cat /proc/sys/vm/nr_hugepages)"
	# Fragmented memory can leave the kernel short of the request: say so, do not hide it.
	if [ "$have" -lt "$pages" ]; then
		tern_log "only $have of $pages hugepages could be reserved (memory fragmented?)"
		exit 1
	fi
else
	tern_log "$have hugepages already reserved"
fi

if ! grep -qs " $mnt hugetlbfs " /proc/mounts; then
	tern_as_root mkdir -p "$mnt"
	tern_as_root mount -t hugetlbfs nodev "$mnt"
	tern_log "mounted hugetlbfs at $mnt"
else
	tern_log "hugetlbfs already mounted at $mnt"
fi

if [ -n "$persist" ]; then
	echo "vm.nr_hugepages = $pages" |
		tern_as_root tee /etc/sysctl.d/60-tern-hugepages.conf >/dev/null
	if ! grep -qs "^nodev $mnt hugetlbfs" /etc/fstab; then
		echo "nodev $mnt hugetlbfs defaults 0 0" | tern_as_root tee -a /etc/fstab >/dev/null
	fi
	tern_log "persisted in /etc/sysctl.d/60-tern-hugepages.conf and /etc/fstab"
fi
grep -E '^Huge(Pages_(Total|Free)|pagesize)' /proc/meminfo
