#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fan-out through the dpdk dataplane, next to the sock dataplane over the same path: two
# network namespaces joined by a veth pair (198.18.0.0/24); tern in one, on `dataplane dpdk`
# (net_af_packet on its veth end) and then on `dataplane sock` (the kernel's TCP on the same
# veth end), tern-bench in the other (the kernel's TCP). Cases: fan-out 1->1, 1->100, 1->1000
# at max rate and 1->100 at a fixed 1,000 msgs/s (QoS 0, 64 B), for each worker count given.
# Writes bench/results/dpdk-DATE/: raw JSON, each run's config and log, results.md.
#
# usage: bench/dpdk-fanout.sh [--quick] [--workers LIST] [--qpairs N|match] [--threads N|auto]
#                             [--dp-cpus LIST] [--bench-cpus LIST] [--dataplanes LIST]
#                             [--cases LIST] [--hugepages] [--out DIR]
#   --quick        1 repetition, 2 s runs: a trial that the script works end to end
#   --workers      worker counts to run, comma separated (default 1): a scaling series
#   --qpairs       net_af_packet queue pairs (default match: as many as workers)
#   --threads      tern-bench threads (default auto: workers, at most the bench CPUs)
#   --dp-cpus      CPUs for tern's lcores / worker threads (default: the first half)
#   --bench-cpus   CPUs for tern-bench (default: the second half)
#   --dataplanes   dpdk,sock (default both, dpdk first for each worker count)
#   --cases        fanout-1-1,fanout-1-100,fanout-1-1000,rate-1-100@1000 (default all)
#   --hugepages    EAL on 2 MiB hugepages (deploy/dpdk-setup.sh first) instead of --no-huge
# Environment: BUILD_DIR (default build-bench-dpdk). When BUILD_DIR/broker/tern and
# BUILD_DIR/bench/tern-bench exist they are used as they are (nothing is built, meson is not
# needed); otherwise BUILD_DIR is built with -Dbuildtype=release. Root only.
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"

usage() {
	sed -n '3,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

quick=0
workers_list=1
qpairs_opt=match
threads_opt=auto
dp_cpus=""
bench_cpus=""
dataplanes=dpdk,sock
only=""
huge=0
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--workers) workers_list="$2"; shift ;;
	--qpairs) qpairs_opt="$2"; shift ;;
	--threads) threads_opt="$2"; shift ;;
	--dp-cpus) dp_cpus="$2"; shift ;;
	--bench-cpus) bench_cpus="$2"; shift ;;
	--dataplanes) dataplanes="$2"; shift ;;
	--cases) only="$2"; shift ;;
	--hugepages) huge=1 ;;
	--out) out="$2"; shift ;;
	-h | --help) usage; exit 0 ;;
	*)
		echo "dpdk-fanout.sh: unknown argument '$1' (see --help)" >&2
		exit 2
		;;
	esac
	shift
done

if [ "$(id -u)" -ne 0 ]; then
	echo "dpdk-fanout.sh: needs root (namespaces, veth, af_packet, EAL)" >&2
	exit 1
fi

# expand_cpus LIST: "0-3,8" -> "0 1 2 3 8"
expand_cpus() {
	local part a b
	for part in ${1//,/ }; do
		case "$part" in
		*-*) a="${part%-*}" b="${part#*-}"; seq "$a" "$b" ;;
		*) echo "$part" ;;
		esac
	done | tr '\n' ' '
}

is_count_list() {
	[[ "$1" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]
}
is_count_list "$workers_list" || { echo "dpdk-fanout.sh: bad --workers '$workers_list'" >&2; exit 2; }
[ "$qpairs_opt" = match ] || is_count_list "$qpairs_opt" ||
	{ echo "dpdk-fanout.sh: bad --qpairs '$qpairs_opt'" >&2; exit 2; }
[ "$threads_opt" = auto ] || is_count_list "$threads_opt" ||
	{ echo "dpdk-fanout.sh: bad --threads '$threads_opt'" >&2; exit 2; }
for dp in ${dataplanes//,/ }; do
	case "$dp" in dpdk | sock) ;; *) echo "dpdk-fanout.sh: bad dataplane '$dp'" >&2; exit 2 ;; esac
done

ncpu="$(nproc)"
half=$(((ncpu + 1) / 2))
[ -n "$dp_cpus" ] || dp_cpus="0-$((half - 1))"
if [ -z "$bench_cpus" ]; then
	if [ "$ncpu" -gt 1 ]; then bench_cpus="$half-$((ncpu - 1))"; else bench_cpus=0; fi
fi
read -r -a dp_cpu_arr <<<"$(expand_cpus "$dp_cpus")"
read -r -a bench_cpu_arr <<<"$(expand_cpus "$bench_cpus")"
for c in "${dp_cpu_arr[@]}" "${bench_cpu_arr[@]}"; do
	if ! [[ "$c" =~ ^[0-9]+$ ]] || [ "$c" -ge "$ncpu" ]; then
		echo "dpdk-fanout.sh: CPU '$c' does not exist ($ncpu CPUs)" >&2
		exit 2
	fi
done
for c in "${dp_cpu_arr[@]}"; do
	case " ${bench_cpu_arr[*]} " in
	*" $c "*) tern_log "warning: tern and tern-bench share CPU $c: the figures are not clean" ;;
	esac
done

if [ "$quick" = 1 ]; then
	reps=1 dur=2 warm=0.5
else
	reps=3 dur=10 warm=2
fi

# What a run of an already built tree needs (bench/README.md, "dpdk-fanout.sh"): the tools,
# and the shared libraries of tern and tern-bench with the DPDK drivers EAL loads as plugins
# (af_packet, the vdev bus, the ring mempool). Installed only when missing: a machine that
# has them all needs no apt and no network.
runtime_packages=(iproute2 ethtool util-linux python3 liburcu8 libjemalloc2 libssl3 libnuma1
	librte-eal23 librte-ethdev23 librte-kvargs23 librte-mbuf23 librte-mempool23 librte-meter23
	librte-net23 librte-ring23 librte-telemetry23 librte-pci23 librte-bus-pci23
	librte-bus-vdev23 librte-mempool-ring23 librte-net-af-packet23)
tern_ensure_packages "${runtime_packages[@]}"
build_dir="${BUILD_DIR:-build-bench-dpdk}"
case "$build_dir" in /*) ;; *) build_dir="$TERN_ROOT/$build_dir" ;; esac
tern_bin="$build_dir/broker/tern"
bench_bin="$build_dir/bench/tern-bench"
if [ -x "$tern_bin" ] && [ -x "$bench_bin" ]; then
	tern_log "using the binaries in $build_dir as they are"
else
	tern_ensure_packages "${TERN_BUILD_PACKAGES[@]}"
	tern_build "$build_dir" -Dbuildtype=release -Dtests=false -Dbench=true -Ddpdk=enabled
fi
if ! "$tern_bin" -h 2>&1 | grep -q . || ! ldd "$tern_bin" | grep -q librte_ethdev; then
	echo "dpdk-fanout.sh: $tern_bin is not built with the dpdk dataplane (libdpdk-dev)" >&2
	exit 1
fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

stamp="$(date -u +%Y-%m-%dT%H%MZ)"
[ "$quick" = 1 ] && stamp="$stamp-quick"
out="${out:-$TERN_ROOT/bench/results/dpdk-$stamp}"
mkdir -p "$out/raw"

id="$$"
ns_dp="tern-bench-dp-$id"
ns_cl="tern-bench-cl-$id"
if_dp="tbenchd$id" # interface names have at most 15 bytes
if_cl="tbenchc$id"
work="$(mktemp -d /tmp/tern-bench-dpdk.XXXXXX)"
pid=""

stop_tern() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	pid=""
}

cleanup() {
	local rc=$?
	stop_tern
	# Deleting a namespace deletes the veth end inside it, and with it its peer.
	ip netns del "$ns_dp" 2>/dev/null || true
	ip netns del "$ns_cl" 2>/dev/null || true
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT INT TERM

max_workers=0
for w in ${workers_list//,/ }; do [ "$w" -gt "$max_workers" ] && max_workers="$w"; done
max_q="$max_workers"
[ "$qpairs_opt" = match ] || max_q="$qpairs_opt"

ip netns add "$ns_dp"
ip netns add "$ns_cl"
# As many veth queues as queue pairs, so af_packet's queues each see traffic.
ip link add "$if_dp" numtxqueues "$max_q" numrxqueues "$max_q" netns "$ns_dp" type veth \
	peer name "$if_cl" numtxqueues "$max_q" numrxqueues "$max_q" netns "$ns_cl"
ip netns exec "$ns_dp" sysctl -qw "net.ipv6.conf.$if_dp.disable_ipv6=1"
ip -n "$ns_dp" link set "$if_dp" up
ip -n "$ns_dp" link set lo up
ip -n "$ns_cl" addr add 198.18.0.1/24 dev "$if_cl"
ip -n "$ns_cl" link set "$if_cl" up
# veth leaves TCP checksums to "hardware" unless told; af_packet would read them unfilled.
ip netns exec "$ns_cl" ethtool -K "$if_cl" tx off >/dev/null
# Both dataplanes see the same path: the same offloads on tern's end too.
ip netns exec "$ns_dp" ethtool -K "$if_dp" tx off >/dev/null
# 1,000 subscribers and a publisher from one address: plenty of ephemeral ports.
ip netns exec "$ns_cl" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"

common_conf() {
	cat <<CONF
allow_anonymous true
max_inflight_messages 1000
max_queued_messages 1000000
sys_interval 0
log_type error
log_type warning
log_dest stderr
CONF
}

# start_tern DATAPLANE WORKERS QPAIRS TAG: start tern in ns_dp, wait until it takes MQTT.
start_tern() {
	local dp="$1" w="$2" q="$3" tag="$4" conf="$out/$4.conf" lcores i cpus="" mem
	{
		common_conf
		echo "workers $w"
	} >"$conf"
	if [ "$dp" = dpdk ]; then
		# The per-worker stack and TCP counters are logged at exit at this level
		# (stop_tern_log drops the per-client lines).
		echo "log_type notice" >>"$conf"
		# lcore 0 (control, idle) shares the first tern CPU with worker 1; the workers
		# take the tern CPUs in order (and share the last when there are fewer).
		lcores="0@${dp_cpu_arr[0]}"
		for i in $(seq 1 "$w"); do
			local k=$((i - 1))
			[ "$k" -lt "${#dp_cpu_arr[@]}" ] || k=$((${#dp_cpu_arr[@]} - 1))
			lcores="$lcores,$i@${dp_cpu_arr[$k]}"
		done
		if [ "$huge" = 1 ]; then mem="-m 1024"; else mem="--no-huge -m 1024"; fi
		cat >>"$conf" <<CONF
listener 1883
dataplane dpdk
dpdk_eal --lcores=$lcores $mem --no-pci --no-shconf --file-prefix=tern-bench-$id --vdev=net_af_packet0,iface=$if_dp,qpairs=$q
dpdk_port 0
dpdk_address 198.18.0.2/24
dpdk_gateway 198.18.0.254
CONF
		ip -n "$ns_dp" addr flush dev "$if_dp"
	else
		echo "listener 1883 198.18.0.2" >>"$conf"
		ip -n "$ns_dp" addr add 198.18.0.2/24 dev "$if_dp"
	fi
	for i in $(seq 0 $((w - 1))); do
		local k="$i"
		[ "$k" -lt "${#dp_cpu_arr[@]}" ] || k=$((${#dp_cpu_arr[@]} - 1))
		cpus="${cpus:+$cpus,}${dp_cpu_arr[$k]}"
	done
	# ip netns exec and taskset exec tern: $! is tern's own PID (for --broker-pid).
	ip netns exec "$ns_dp" taskset -c "$cpus" "$tern_bin" -c "$conf" >"$out/$tag.log" 2>&1 &
	pid=$!
	for _ in $(seq 80); do
		kill -0 "$pid" 2>/dev/null || { cat "$out/$tag.log" >&2; echo "dpdk-fanout.sh: tern exited during start-up" >&2; exit 1; }
		if ip netns exec "$ns_cl" timeout 1 bash -c 'exec 3<>/dev/tcp/198.18.0.2/1883' 2>/dev/null; then
			return 0
		fi
		sleep 0.25
	done
	cat "$out/$tag.log" >&2
	echo "dpdk-fanout.sh: tern ($dp, $w workers) took no TCP connection within 20 s" >&2
	exit 1
}

# NAME|tern-bench arguments
cases=(
	"fanout-1-1|fanout -S 1"
	"fanout-1-100|fanout -S 100"
	"fanout-1-1000|fanout -S 1000"
	"rate-1-100@1000|fanout -S 100 -r 1000"
)

selected() {
	[ -z "$only" ] && return 0
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "commit: $(git -C "$TERN_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "dpdk: $(dpkg-query -W -f='${Version}' librte-net-af-packet23 2>/dev/null || echo '?')"
	echo "quick: $quick reps: $reps duration: $dur warmup: $warm"
	echo "workers: $workers_list qpairs: $qpairs_opt threads: $threads_opt"
	echo "tern CPUs: ${dp_cpu_arr[*]} tern-bench CPUs: ${bench_cpu_arr[*]} hugepages: $huge"
	echo "build: $build_dir ($(/usr/bin/python3 -c 'import json,sys
o = json.load(open(sys.argv[1]))
print(", ".join("%s=%s" % (x["name"], x["value"]) for x in o if x["name"] in ("buildtype", "b_sanitize")))' \
		"$build_dir/meson-info/intro-buildoptions.json" 2>/dev/null || echo "build options unknown"))"
} >"$out/env.txt"

bench_list="$(tr ' ' ',' <<<"${bench_cpu_arr[*]}")"
for w in ${workers_list//,/ }; do
	q="$w"
	[ "$qpairs_opt" = match ] || q="$qpairs_opt"
	t="$threads_opt"
	if [ "$t" = auto ]; then
		t="$w"
		[ "$t" -le "${#bench_cpu_arr[@]}" ] || t="${#bench_cpu_arr[@]}"
	fi
	for dp in ${dataplanes//,/ }; do
		tag="$dp.w$w"
		tern_log "tern on $dp, $w worker(s), $q queue pair(s); tern-bench $t thread(s)"
		start_tern "$dp" "$w" "$q" "$tag"
		for c in "${cases[@]}"; do
			name="${c%%|*}" args="${c#*|}"
			selected "$name" || continue
			for r in $(seq 1 "$reps"); do
				f="$out/raw/$name.$tag.$r.json"
				# shellcheck disable=SC2086 # args is a word list
				ip netns exec "$ns_cl" taskset -c "$bench_list" "$bench_bin" $args -h 198.18.0.2 \
					-p 1883 -d "$dur" --warmup "$warm" -w 16384 -T "$t" --cpu "$bench_list" \
					--broker-pid "$pid" --json --no-progress >"$f" 2>"$f.err" || true
				if ! /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null; then
					echo "dpdk-fanout.sh: tern-bench wrote no JSON for $f:" >&2
					cat "$f.err" >&2
					exit 1
				fi
				[ -s "$f.err" ] || rm -f "$f.err"
				kill -0 "$pid" 2>/dev/null || { tail -20 "$out/$tag.log" >&2; echo "dpdk-fanout.sh: tern died in $name" >&2; exit 1; }
				tern_log "$name $tag rep $r: $(/usr/bin/python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); m = d["median"]
print("%.0f msgs/s delivered, p99 %.0f us, lost %d, %s" % (m["delivered_rate"], m["latency_us"]["p99"], d["total"]["lost"], d["verdict"]))' "$f")"
			done
		done
		stop_tern
		# Keep the counters, errors and warnings; leave out a line per client.
		grep -v -E 'New client connected|Client .* (disconnected|closed its connection)' \
			"$out/$tag.log" >"$work/log" || true
		cp "$work/log" "$out/$tag.log"
	done
done
ip -n "$ns_dp" addr flush dev "$if_dp"

/usr/bin/python3 "$TERN_ROOT/bench/dpdk_report.py" "$out" >"$out/results.md"
cat "$out/results.md"
tern_log "results in $out"
