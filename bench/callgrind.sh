#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per delivered message of the engine: runs bench/micro/engine_workload
# (the real engine behind a fake in-process dataplane, a fixed workload per scenario)
# under valgrind --tool=callgrind, counting only the engine's calls (the measured_*
# functions and everything they call; the fake clients' encoding and parsing is not
# counted), and prints one line per scenario and worker count. Then, as root and when
# built, bench/micro/dpdk_workload: the same fan-out through one dpdk worker (the
# userspace stack, the TCP glue and the engine, fed Ethernet frames by simulated TCP
# peers, no NIC), counting its loop turns (measured_turn), two lines per scenario: TCP
# checksums in software (as on net_af_packet) and left to the port (+ofl, as on a NIC).
#
# Usage: bench/callgrind.sh [BUILD_DIR] [SCENARIO...]
#   BUILD_DIR defaults to $BUILD_DIR or build; scenarios default to all of them (a name
#   runs in each workload that has it).
# Environment: WORKERS (default "1 2"), KEEP=DIR keeps the callgrind.out files there
# (for callgrind_annotate), DPDK=0 leaves the dpdk workload out (DPDK=1 makes its
# absence an error).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${BUILD_DIR:-build}}"
[ $# -gt 0 ] && shift
case "$build" in /*) ;; *) build="$root/$build" ;; esac
workload="$build/bench/micro/engine_workload"
dpdk_workload="$build/bench/micro/dpdk_workload"

# shellcheck source=deploy/lib.sh
. "$root/deploy/lib.sh"
tern_ensure_packages valgrind
if [ ! -x "$workload" ]; then
	echo "callgrind.sh: $workload not built (meson setup with -Dbench=true, then ninja)" >&2
	exit 1
fi

dpdk="${DPDK:-auto}"
if [ "$dpdk" != 0 ]; then
	why=""
	[ -x "$dpdk_workload" ] || why="$dpdk_workload not built (needs libdpdk-dev)"
	[ -n "$why" ] || [ "$(id -u)" -eq 0 ] || why="the dpdk workload needs root (EAL)"
	if [ -n "$why" ]; then
		[ "$dpdk" = 1 ] && { echo "callgrind.sh: $why" >&2; exit 1; }
		echo "callgrind.sh: $why: engine only" >&2
		dpdk=0
	fi
fi

all=("$@")
scenarios=("$@")
if [ ${#all[@]} -eq 0 ]; then
	mapfile -t scenarios < <("$workload" --list)
else
	mapfile -t known < <("$workload" --list)
	scenarios=()
	for sc in "${all[@]}"; do
		case " ${known[*]} " in *" $sc "*) scenarios+=("$sc") ;; esac
	done
fi

tmp="$(mktemp -d /tmp/tern-callgrind.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
out_dir="${KEEP:-$tmp}"
mkdir -p "$out_dir"

# count WORKLOAD SCENARIO WORKERS TOGGLE ARGS...: one line of the table.
count() {
	local wl="$1" sc="$2" w="$3" toggle="$4" line delivered ir cg
	shift 4
	cg="$out_dir/callgrind.out.$wl.$sc.w$w"
	line="$(valgrind --tool=callgrind --collect-atstart=no \
		--toggle-collect="$toggle" --callgrind-out-file="$cg" \
		"$@" 2>"$tmp/valgrind.log")" || {
		cat "$tmp/valgrind.log" >&2
		echo "callgrind.sh: $wl $sc with $w workers failed" >&2
		exit 1
	}
	delivered="$(sed -n 's/.* delivered=\([0-9]*\) .*/\1/p' <<<"$line")"
	ir="$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg")"
	if [ -z "$delivered" ] || [ -z "$ir" ] || [ "$delivered" -eq 0 ]; then
		echo "callgrind.sh: no counts for $wl $sc with $w workers" >&2
		exit 1
	fi
	printf '%-8s %-14s %7s %10s %14s %12s\n' "$wl" "$sc" "$w" "$delivered" "$ir" \
		"$(awk -v i="$ir" -v d="$delivered" 'BEGIN { printf "%.0f", i / d }')"
}

printf '%-8s %-14s %7s %10s %14s %12s\n' workload scenario workers delivered instructions \
	instr/msg
for sc in "${scenarios[@]}"; do
	for w in ${WORKERS:-1 2}; do
		count engine "$sc" "$w" 'measured_*' "$workload" "$sc" "$w"
	done
done
[ "$dpdk" != 0 ] || exit 0
mapfile -t dscen < <("$dpdk_workload" --list)
if [ ${#dscen[@]} -eq 0 ]; then
	echo "callgrind.sh: $dpdk_workload --list failed" >&2
	exit 1
fi
for sc in "${dscen[@]}"; do
	if [ ${#all[@]} -gt 0 ]; then
		case " ${all[*]} " in *" $sc "*) ;; *) continue ;; esac
	fi
	count dpdk "$sc" 1 measured_turn "$dpdk_workload" "$sc"
	count dpdk "$sc+ofl" 1 measured_turn "$dpdk_workload" "$sc" --cksum-offload
done
