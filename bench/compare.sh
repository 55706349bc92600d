#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Side-by-side comparison of tern and Debian's mosquitto with tern-bench: one long-lived
# tern (1 worker) and two long-lived mosquittos (defaults, and set_tcp_nodelay true; the
# better figure per case counts), all with the same generous queue limits, each broker
# pinned to one CPU and tern-bench to another. Runs the standard cases (bench/README.md)
# with 3 repetitions and writes bench/results/DATE/: raw JSON, results.md (medians,
# tern/mosquitto ratios, targets met or not) and gnuplot PNGs.
#
# usage: bench/compare.sh [--quick] [--cases NAME,NAME...] [--broker-cpu N] [--bench-cpu N]
#                         [--out DIR]
#   --quick   1 repetition, short durations: a trial that the script works end to end.
# Environment: BUILD_DIR (default build-compare; built with -Dbuildtype=release).
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"

quick=0
only=""
broker_cpu=0
bench_cpu=1
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--cases) only="$2"; shift ;;
	--broker-cpu) broker_cpu="$2"; shift ;;
	--bench-cpu) bench_cpu="$2"; shift ;;
	--out) out="$2"; shift ;;
	-h | --help)
		sed -n '3,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "compare.sh: unknown argument '$1' (see --help)" >&2
		exit 2
		;;
	esac
	shift
done

if [ "$quick" = 1 ]; then
	reps=1 dur=2 warm=0.5 idle=1 rounds=10 round_dur=1
else
	reps=3 dur=10 warm=2 idle=5 rounds=10 round_dur=5
fi

tern_ensure_packages "${TERN_BUILD_PACKAGES[@]}" mosquitto gnuplot-nox python3 util-linux
build_dir="${BUILD_DIR:-build-compare}"
tern_build "$build_dir" -Dbuildtype=release -Dtests=false -Dbench=true
cd "$TERN_ROOT"
tern_bin="$TERN_ROOT/$build_dir/broker/tern"
bench_bin="$TERN_ROOT/$build_dir/bench/tern-bench"

ncpu="$(nproc)"
if [ "$broker_cpu" -ge "$ncpu" ] || [ "$bench_cpu" -ge "$ncpu" ]; then
	echo "compare.sh: CPUs $broker_cpu and $bench_cpu do not both exist ($ncpu CPUs)" >&2
	exit 2
fi
[ "$broker_cpu" != "$bench_cpu" ] || tern_log "warning: broker and tern-bench share CPU $broker_cpu"

# 10,000 idle connections plus the brokers' own files: raise the limit for every child.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ]; then
	echo "compare.sh: RLIMIT_NOFILE $(ulimit -n) is below 10,100 and cannot be raised" >&2
	exit 1
fi

stamp="$(date -u +%Y-%m-%dT%H%MZ)"
[ "$quick" = 1 ] && stamp="$stamp-quick"
out="${out:-$TERN_ROOT/bench/results/$stamp}"
mkdir -p "$out/raw"
work="$(mktemp -d /tmp/tern-compare-bench.XXXXXX)"
chmod 755 "$work" # mosquitto started as root runs as user mosquitto and reads its config here

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	local port="$1" _
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# The same generous limits for every broker: QoS 1 queues that do not drop in these cases.
common_conf() {
	cat <<CONF
listener $1 127.0.0.1
allow_anonymous true
max_inflight_messages 1000
max_queued_messages 1000000
log_type error
log_type warning
log_dest stderr
CONF
}

declare -A port pid
start_broker() { # NAME: tern | mosquitto | mosquitto-nodelay, each with an optional -fresh
	local name="$1" p conf="$work/$1.conf"
	p="$(free_port)"
	common_conf "$p" >"$conf"
	case "${name%-fresh}" in
	tern)
		echo "workers 1" >>"$conf"
		taskset -c "$broker_cpu" "$tern_bin" -c "$conf" >"$out/$name.log" 2>&1 &
		;;
	mosquitto)
		taskset -c "$broker_cpu" /usr/sbin/mosquitto -c "$conf" >"$out/$name.log" 2>&1 &
		;;
	mosquitto-nodelay)
		echo "set_tcp_nodelay true" >>"$conf"
		taskset -c "$broker_cpu" /usr/sbin/mosquitto -c "$conf" >"$out/$name.log" 2>&1 &
		;;
	esac
	pid[$name]=$!
	pids+=("$!")
	port[$name]="$p"
	cp "$conf" "$out/$name.conf"
	if ! wait_port "$p"; then
		echo "compare.sh: $name did not start; its log:" >&2
		cat "$out/$name.log" >&2
		exit 1
	fi
}

stop_broker() { # NAME
	local name="$1" p
	kill "${pid[$name]}"
	wait "${pid[$name]}" 2>/dev/null || true
	for p in "${!pids[@]}"; do
		[ "${pids[$p]}" != "${pid[$name]}" ] || unset 'pids[p]'
	done
}

brokers=(tern mosquitto mosquitto-nodelay)
for b in "${brokers[@]}"; do
	start_broker "$b"
done

rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# Deliveries in flight at most, the same at every QoS: the brokers' queues above hold it.
window=16384

# NAME|KIND|tern-bench arguments. KIND: tput (delivered msgs/s), lat (fixed rate,
# percentiles), conn (connection rate, bytes per idle connection). conn runs first, on
# fresh brokers, so the memory figure is not blurred by memory freed by earlier cases.
cases=(
	"conn-10k|conn|conn -c 10000 -d $idle"
	"fanout-1-1|tput|fanout -S 1"
	"fanout-1-100|tput|fanout -S 100"
	"fanout-1-1000|tput|fanout -S 1000"
	"fanout-1-100-1KiB|tput|fanout -S 100 -s 1024"
	"pairs-100-q0|tput|pairs -P 100"
	"pairs-100-q1|tput|pairs -P 100 -q 1"
	"pairs-100-q0-1KiB|tput|pairs -P 100 -s 1024"
	"fanin-100-q0|tput|fanin -P 100"
	"fanin-100-q1|tput|fanin -P 100 -q 1"
	"rate-1-1@1000|lat|fanout -S 1 -r 1000"
	"rate-1-100@1000|lat|fanout -S 100 -r 1000"
	"rate-1-1000@100|lat|fanout -S 1000 -r 100"
)

selected() {
	[ -z "$only" ] && return 0
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}

run_bench() { # OUTFILE BROKER ARGS...
	local f="$1" b="$2"
	shift 2
	# A run that fails (loss at QoS 1, a refused connection) still writes its JSON; the
	# report shows it. Only a run without JSON stops the comparison.
	taskset -c "$bench_cpu" "$bench_bin" "$@" -p "${port[$b]}" --broker-pid "${pid[$b]}" \
		--cpu "$bench_cpu" --json --no-progress >"$f" 2>"$f.err" || true
	if ! /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null; then
		echo "compare.sh: tern-bench wrote no JSON for $f:" >&2
		cat "$f.err" >&2
		exit 1
	fi
	[ -s "$f.err" ] || rm -f "$f.err"
	if ! kill -0 "${pid[$b]}" 2>/dev/null; then
		echo "compare.sh: $b died during $f; its log:" >&2
		tail -20 "$out/$b.log" >&2
		exit 1
	fi
}

total=0
for c in "${cases[@]}"; do
	IFS='|' read -r name kind args <<<"$c"
	selected "$name" || continue
	for r in $(seq 1 "$reps"); do
		# Brokers take turns within each repetition, so drift in machine load hits all alike.
		for b in "${brokers[@]}"; do
			total=$((total + 1))
			tern_log "[$total] $name rep $r on $b"
			# shellcheck disable=SC2086
			if [ "$kind" = conn ]; then
				run_bench "$out/raw/$name.$b.$r.json" "$b" $args
			else
				run_bench "$out/raw/$name.$b.$r.json" "$b" $args -d "$dur" --warmup "$warm" \
					-w "$window"
			fi
		done
	done
done

# No decay: ten rounds of everyone connecting, running and disconnecting (fan-out 1->100,
# QoS 0, max rate) on the long-lived broker; its RSS is read 1 s after each round. Each
# round is followed by the same round on a broker started for it (its first round ever),
# so what the long-lived broker lost is told apart from the machine's own drift, which
# here moves throughput by 20% within minutes.
if selected no-decay; then
	for b in tern mosquitto; do
		echo "idle_rss_kb $(rss_kb "${pid[$b]}")" >"$out/raw/no-decay.$b.rss"
		for r in $(seq 1 "$rounds"); do
			for run in "$b" "$b-fresh"; do
				[ "$run" = "$b" ] || start_broker "$run"
				tern_log "no-decay round $r on $run"
				run_bench "$out/raw/no-decay.$run.$r.json" "$run" fanout -S 100 \
					-d "$round_dur" --warmup 0.5 -w "$window"
				if [ "$run" = "$b" ]; then
					sleep 1
					echo "round $r $(rss_kb "${pid[$b]}")" >>"$out/raw/no-decay.$b.rss"
				else
					stop_broker "$run"
				fi
			done
		done
	done
fi

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "mode: $([ "$quick" = 1 ] && echo "QUICK TRIAL (1 repetition, ${dur} s per run)" || echo "full ($reps repetitions, ${dur} s per run, ${warm} s warm-up)")"
	echo "commit: $(git -C "$TERN_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$TERN_ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "kernel: $(uname -r)"
	echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) x $ncpu"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "mosquitto: $(/usr/sbin/mosquitto -h 2>/dev/null | head -1)"
	echo "pinning: brokers on CPU $broker_cpu, tern-bench on CPU $bench_cpu"
} >"$out/env.txt"

/usr/bin/python3 "$TERN_ROOT/bench/compare_report.py" "$out"
tern_log "results in $out"
