#!/usr/bin/env bash
# bench/micro/run.sh: build and run the codec micro benchmarks (Google
# Benchmark, libbenchmark-dev) against ../../src; also `bench/run --micro`.
#
#   bash bench/micro/run.sh [GOOGLE BENCHMARK FLAGS...]
#   e.g. bash bench/micro/run.sh --benchmark_filter=RecordWriter
#
# Builds in build/bench_micro (git-ignored), prints the table and writes it to
# bench/results/micro.txt (and micro.json).
set -euo pipefail
MICRO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$MICRO/../.." && pwd)
BUILD="$ROOT/build/bench_micro"
OUT="$ROOT/bench/results"

if [[ ! -f /usr/include/benchmark/benchmark.h ]]; then
  if [[ $(id -u) == 0 ]]; then
    echo "micro: installing libbenchmark-dev ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libbenchmark-dev >/dev/null
  else
    echo "micro: libbenchmark-dev is missing (apt-get install libbenchmark-dev)" >&2
    exit 2
  fi
fi
cmake -S "$MICRO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
mkdir -p "$OUT"
"$BUILD/ledger_micro" --benchmark_min_time=0.2 --benchmark_out="$OUT/micro.json" \
  --benchmark_out_format=json "$@" | tee "$OUT/micro.txt"
echo "micro: written $OUT/micro.txt and micro.json"
