#!/usr/bin/env bash
# Builds the SIP parser fuzzer (libFuzzer + AddressSanitizer) into .build-fuzz
# and runs it on a copy of Fuzz/corpus. See docs/testing.md, "Fuzzing the SIP parser".
#
#   Fuzz/run.sh [SECONDS] [LIBFUZZER_FLAG...]     (default 600 seconds)
#
# Environment:
#   FUZZ_CONFIG   release (default; about 4x the executions per second of debug) or debug
#   FUZZ_WORKDIR  where the corpus copy, crash files and log go (default .build-fuzz/run);
#                 emptied at the start of each run
#   FUZZ_BUILD=0  skip the build and use the existing .build-fuzz/SIPParserFuzzer
#
# Runs one process (no -jobs/-workers). Exits with libFuzzer's status: 0 when the
# time ran out without a crash; non-zero when an input crashed or timed out (it
# is in $FUZZ_WORKDIR/artifacts/). Prefix with `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# Swift's crash backtracer and ASan do not mix (the backtracer's helper can hang
# on the pipe); leave crash reports to libFuzzer and ASan.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

duration=600
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    duration=$1
    shift
fi
config=${FUZZ_CONFIG:-release}
work=${FUZZ_WORKDIR:-.build-fuzz/run}
bin=.build-fuzz/SIPParserFuzzer

if [[ ${FUZZ_BUILD:-1} != 0 ]]; then
    # SwiftPM links every executable product with `--defsym main=<Module>_main`
    # (so that tests can link executables), which leaves no room for libFuzzer's
    # own main. So SwiftPM only compiles the two modules, instrumented, and
    # swiftc links them with the fuzzer runtime, whose main calls
    # LLVMFuzzerTestOneInput. -DFUZZING leaves out the replay tool's @main.
    echo "== building SIPParserFuzzer ($config, -sanitize=fuzzer,address)"
    swift build -c "$config" --target SIPParserFuzzer --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
    objdir=$(swift build -c "$config" --scratch-path .build-fuzz --show-bin-path)
    objects=()
    for module in SIPMessages SIPParserFuzzer; do
        # One object per source file of the module as last built.
        while IFS= read -r source; do
            objects+=("$objdir/$module.build/$(basename "$source").o")
        done < "$objdir/$module.build/sources"
    done
    swiftc -use-ld=lld -sanitize=fuzzer,address "${objects[@]}" -o "$bin"
    echo "== built $bin"
fi

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp Fuzz/corpus/* "$work/corpus/"
seeds=$(ls "$work/corpus" | wc -l)
log=$work/fuzz.log
echo "== fuzzing for ${duration}s from $seeds seeds in $work/corpus (log: $log)"

set +e
"$bin" "$work/corpus" \
    -dict=Fuzz/sip.dict \
    -max_len=65536 \
    -max_total_time="$duration" \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" \
    "$@" 2>&1 | tee "$log" | grep --line-buffered -E '^(#[0-9]+[[:space:]]+(INITED|pulse|DONE)|Done |==[0-9]+==|SUMMARY|artifact_prefix|Test unit written|.*Fatal error)'
status=${PIPESTATUS[0]}
set -e

# The last status line: "#N DONE cov: C ft: F corp: U/S lim: L exec/s: E rss: R".
last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1 || true)
field() { sed -nE "s/.* $1: ([^ ]+).*/\1/p" <<<"$last"; }
execs=$(sed -nE 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -nE 's/^stat::average_exec_per_sec: *//p' "$log")
crashes=$(find "$work/artifacts" -type f | wc -l)
echo "== results"
echo "executions:   ${execs:-?} (${rate:-?} exec/s) in ${duration}s"
echo "coverage:     cov $(field cov), ft $(field ft)"
echo "corpus:       $(field corp) units/size in memory; $(ls "$work/corpus" | wc -l) files in $work/corpus (from $seeds seeds)"
echo "peak RSS:     $(sed -nE 's/^stat::peak_rss_mb: *//p' "$log") MB"
echo "crash files:  $crashes in $work/artifacts"
find "$work/artifacts" -type f -print
exit "$status"
