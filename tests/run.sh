#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the build and the tests need, build with -Dwerror=true and run every
# registered test suite (unit, proto, interop). The last line printed is "N passed, N failed";
# the exit status is 0 only if nothing failed (a skipped test counts as failed) and
# something passed. A failed build prints "0 passed, 1 failed". Environment: BUILD_DIR (default build), MESON_TEST_ARGS (extra
# arguments for meson test, split on whitespace).
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"

build_dir="${BUILD_DIR:-build}"
test_packages=(libcmocka-dev python3 python3-paho-mqtt mosquitto mosquitto-clients tshark)
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
meson test -C "$build_dir" --print-errorlogs --no-rebuild "${extra[@]}" || true

if [ ! -f "$testlog" ]; then
	echo "meson test wrote no $testlog" >&2
	echo "0 passed, 0 failed"
	exit 1
fi

# The tests' own python may be a pyenv one without the system packages; count with Debian's.
counts="$(/usr/bin/python3 - "$testlog" <<'PY'
import json
import sys

passed = failed = 0
with open(sys.argv[1], encoding="utf-8") as f:
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
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
