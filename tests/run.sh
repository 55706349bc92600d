#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the build and the tests need, build with -Dwerror=true and run every
# registered test suite (unit, proto, interop). The last line printed is "N passed, N failed";
# the exit status is 0 only if nothing failed (a skipped test counts as failed) and
# something passed. A failed build prints "0 passed, 1 failed". Environment: BUILD_DIR (default build), MESON_TEST_ARGS (extra
# arguments for meson test, split on whitespace).
#
# Then two more trees (tests/README.md): BUILD_DIR-asan, built with ASan+UBSan, runs every
# suite again (soak included) with leak checking; BUILD_DIR-fuzz, built with clang and
# -Dfuzz=true, runs suite fuzz. The final count covers every tree; a failed extra build
# counts as one failure. TERN_QUICK=1 skips both for a quick local run, except under CI=true.
# ASAN_BUILD_DIR and FUZZ_BUILD_DIR override their directories.
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"

build_dir="${BUILD_DIR:-build}"
test_packages=(libcmocka-dev python3 python3-paho-mqtt mosquitto mosquitto-clients tshark)
# DPDK for the userspace TCP/IP stack and its tests (suite dpdk; built when meson finds it).
test_packages+=(openssl) # tests make their own CA and certificates
# The fuzz tree: clang with its sanitizer and libFuzzer runtimes.
test_packages+=(clang libclang-rt-dev)
# The dpdk suite (run as root): DPDK itself, and the tools its namespace tests drive.
test_packages+=(libdpdk-dev iproute2 iputils-ping ethtool)

# tshark's installer asks whether non-root users may capture; answer no, without a prompt.
if ! tern_pkg_installed tshark; then
	echo 'wireshark-common wireshark-common/install-setuid boolean false' |
		tern_as_root debconf-set-selections
fi
tern_ensure_packages "${TERN_BUILD_PACKAGES[@]}" "${test_packages[@]}"

if ! tern_build "$build_dir" -Dwerror=true -Dtests=true; then
	echo "build failed: no test ran" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
cd "$TERN_ROOT"

extra=()
read -r -a extra <<<"${MESON_TEST_ARGS:-}"

testlog="$build_dir/meson-logs/testlog.json"
rm -f "$testlog"
# A failing test makes meson exit non-zero; the count below decides the status.
# The soak test runs in the ASan tree only: there it also proves no sanitizer report.
meson test -C "$build_dir" --print-errorlogs --no-rebuild --no-suite soak "${extra[@]}" || true

if [ ! -f "$testlog" ]; then
	echo "meson test wrote no $testlog" >&2
	echo "0 passed, 0 failed"
	exit 1
fi
testlogs=("$testlog")
extra_failed=0

# run_tree DIR MESON_TEST_ARGS...: run meson test in an extra tree and add its log.
run_tree() {
	local dir="$1" log="$1/meson-logs/testlog.json"
	shift
	rm -f "$log"
	meson test -C "$dir" --print-errorlogs --no-rebuild "$@" "${extra[@]}" || true
	if [ -f "$log" ]; then
		testlogs+=("$log")
	else
		echo "meson test wrote no $log" >&2
		extra_failed=$((extra_failed + 1))
	fi
}

if [ "${TERN_QUICK:-0}" = 1 ] && [ "${CI:-}" != true ]; then
	echo "TERN_QUICK=1: the ASan+UBSan and fuzz trees are NOT built or run" >&2
else
	asan_dir="${ASAN_BUILD_DIR:-$build_dir-asan}"
	fuzz_dir="${FUZZ_BUILD_DIR:-$build_dir-fuzz}"
	if tern_build "$asan_dir" -Dwerror=true -Dtests=true -Db_sanitize=address,undefined \
		-Db_lundef=false; then
		cd "$TERN_ROOT"
		# Leaks are reported at exit (the broker's on SIGTERM, checked by brokerfix.py);
		# UBSan stops at the first report. ASan slows tests down: longer timeouts.
		ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:print_summary=1" \
			UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
			run_tree "$asan_dir" --timeout-multiplier 3
	else
		echo "ASan+UBSan build failed: its tests did not run" >&2
		extra_failed=$((extra_failed + 1))
	fi
	cd "$TERN_ROOT"
	# Only the fuzzers run here: no bench/ (its C++ would link without clang's sanitizer runtime).
	if CC=clang CXX=clang++ tern_build "$fuzz_dir" -Dwerror=true -Dtests=true -Dfuzz=true \
		-Dbench=false; then
		cd "$TERN_ROOT"
		run_tree "$fuzz_dir" --suite fuzz
	else
		echo "fuzz build (clang, -Dfuzz=true) failed: the fuzzers did not run" >&2
		extra_failed=$((extra_failed + 1))
	fi
	cd "$TERN_ROOT"
fi

# The tests' own python may be a pyenv one without the system packages; count with Debian's.
counts="$(/usr/bin/python3 - "${testlogs[@]}" <<'PY'
import json
import sys

passed = failed = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS and SKIP: we allow no skipped tests.
                failed += 1
print(passed, failed)
PY
)"
read -r passed failed <<<"$counts"
failed=$((failed + extra_failed))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
