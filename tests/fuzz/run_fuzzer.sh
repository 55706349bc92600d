#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer target for a bounded time, as a test: new inputs go to a
# temporary directory, the committed corpus is only read, and any crash,
# sanitizer report, leak or timeout fails (its input is kept in ARTIFACT_DIR).
# Usage: run_fuzzer.sh FUZZER CORPUS_DIR ARTIFACT_DIR SECONDS MAX_LEN
# TERN_FUZZ_SECONDS overrides SECONDS.
set -euo pipefail

fuzzer="$1" corpus="$2" artifacts="$3" seconds="${TERN_FUZZ_SECONDS:-$4}" max_len="$5"
name="$(basename "$fuzzer")"

if ! compgen -G "$corpus/*" >/dev/null; then
	echo "$name: no seeds in $corpus (run tests/fuzz/gen_corpus.py)" >&2
	exit 1
fi
mkdir -p "$artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/tern-fuzz-$name-XXXXXX")"
trap 'rm -rf "$work"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

status=0
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len="$max_len" \
	-print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work" "$corpus" \
	>"$work/log" 2>&1 || status=$?
cat "$work/log"
if [ "$status" -ne 0 ]; then
	echo "$name: FAILED (exit $status); reproduce with: $fuzzer $artifacts/$name-<crash file>" >&2
	exit 1
fi
# A run that did nothing must not pass.
runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log")"
if [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
	echo "$name: the fuzzer ran no input" >&2
	exit 1
fi
echo "$name: $runs runs in ${seconds}s (the corpus replay included), no failure"
