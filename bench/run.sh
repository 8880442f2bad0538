#!/usr/bin/env bash
# Capacity benchmark: SIPp (core 0) against .build/release/hotline (core 1).
# Called by `make bench` after `swift build -c release`. Quick smoke run: BENCH_QUICK=1.
# All knobs (BENCH_STEPS, BENCH_MAX_STEP, BENCH_HOLD_MS, BENCH_CPS, HOTLINE_BIN, ...) are
# described at the top of bench/bench.py. Results are printed and appended to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for tool in sipp taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' missing (apt-get install sip-tester util-linux)" >&2; exit 1; }
done
command -v tshark >/dev/null || echo "bench: tshark missing: no RTP spacing column (apt-get install tshark)" >&2
bin="${HOTLINE_BIN:-.build/release/hotline}"
[ -x "$bin" ] || { echo "bench: $bin not found; run 'swift build -c release' first" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "bench: needs 2 cores (daemon and SIPp pinned apart); found $(nproc)" >&2; exit 1
fi
# Thousands of calls: SIPp needs file descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
python3 bench/bench.py "$@"
# The registrar and calls-to-phones benchmark (Kamailio side by side): bench/registrar_bench.py.
if [ "${BENCH_NO_REGISTRAR:-0}" = 0 ]; then python3 bench/registrar_bench.py; fi
# Bridged-call media: relay, recording, transcoding, rtpengine side by side: bench/media_bench.py.
if [ "${BENCH_NO_MEDIA:-0}" = 0 ]; then python3 bench/media_bench.py; fi
# Queues: ACD decisions per second and offer latency with 2,000 callers waiting: bench/acd_bench.py.
if [ "${BENCH_NO_ACD:-0}" = 0 ]; then python3 bench/acd_bench.py; fi
