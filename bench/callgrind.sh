#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per delivered message of the engine: runs bench/micro/engine_workload
# (the real engine behind a fake in-process dataplane, a fixed workload per scenario)
# under valgrind --tool=callgrind, counting only the engine's calls (the measured_*
# functions and everything they call; the fake clients' encoding and parsing is not
# counted), and prints one line per scenario and worker count.
#
# Usage: bench/callgrind.sh [BUILD_DIR] [SCENARIO...]
#   BUILD_DIR defaults to $BUILD_DIR or build; scenarios default to all of them.
# Environment: WORKERS (default "1 2"), KEEP=DIR keeps the callgrind.out files there
# (for callgrind_annotate).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${BUILD_DIR:-build}}"
[ $# -gt 0 ] && shift
case "$build" in /*) ;; *) build="$root/$build" ;; esac
workload="$build/bench/micro/engine_workload"

# shellcheck source=deploy/lib.sh
. "$root/deploy/lib.sh"
tern_ensure_packages valgrind
if [ ! -x "$workload" ]; then
	echo "callgrind.sh: $workload not built (meson setup with -Dbench=true, then ninja)" >&2
	exit 1
fi

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
	mapfile -t scenarios < <("$workload" --list)
fi

tmp="$(mktemp -d /tmp/tern-callgrind.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
out_dir="${KEEP:-$tmp}"
mkdir -p "$out_dir"

printf '%-10s %7s %10s %14s %12s\n' scenario workers delivered instructions instr/msg
for sc in "${scenarios[@]}"; do
	for w in ${WORKERS:-1 2}; do
		cg="$out_dir/callgrind.out.$sc.w$w"
		line="$(valgrind --tool=callgrind --collect-atstart=no \
			--toggle-collect='measured_*' --callgrind-out-file="$cg" \
			"$workload" "$sc" "$w" 2>"$tmp/valgrind.log")" || {
			cat "$tmp/valgrind.log" >&2
			echo "callgrind.sh: $sc with $w workers failed" >&2
			exit 1
		}
		delivered="$(sed -n 's/.* delivered=\([0-9]*\) .*/\1/p' <<<"$line")"
		ir="$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg")"
		if [ -z "$delivered" ] || [ -z "$ir" ] || [ "$delivered" -eq 0 ]; then
			echo "callgrind.sh: no counts for $sc with $w workers" >&2
			exit 1
		fi
		printf '%-10s %7s %10s %14s %12s\n' "$sc" "$w" "$delivered" "$ir" \
			"$(awk -v i="$ir" -v d="$delivered" 'BEGIN { printf "%.0f", i / d }')"
	done
done
