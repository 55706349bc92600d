#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build tern (installing any missing Debian packages first) and run it from the build
# tree: deploy/run.sh [tern arguments...], e.g. deploy/run.sh -c deploy/tern.conf.
# Without arguments tern listens on port 1883 on every address.
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tern_ensure_packages "${TERN_BUILD_PACKAGES[@]}"
tern_build "${BUILD_DIR:-build}"
cd "$TERN_ROOT"
exec "${BUILD_DIR:-build}/broker/tern" "$@"
