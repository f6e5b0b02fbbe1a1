#!/usr/bin/env bash
# The two commands of the README:
#   ./build.sh demo   set up, build, and run the demo on the built-in guest kernel
#   ./build.sh test   set up, build, and run the whole test suite through ctest
#                     (normal build, ASan+UBSan build, libFuzzer build)
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc 2>/dev/null || echo 2)
werror=OFF
[ "${CI:-}" = true ] && werror=ON

configure_and_build() { # DIR TARGET [cmake args...]
  local dir=$1 target=$2; shift 2
  cmake -S . -B "$dir" -DL1VMM_WERROR=$werror "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" --target "$target"
}

case "${1:-}" in
demo)
  scripts/setup.sh
  configure_and_build build all -DCMAKE_BUILD_TYPE=Release
  exec scripts/demo.sh build/l1vmm/l1vmm
  ;;
test)
  scripts/setup.sh
  configure_and_build build all
  ctest --test-dir build --output-on-failure -j 2
  configure_and_build build-asan all -DL1VMM_SANITIZE=ON -DL1VMM_PERF=OFF
  ctest --test-dir build-asan --output-on-failure -j 2 -L 'unit|integration' -LE long
  # the fuzzers only: the guest kernel's freestanding flags are gcc's
  CC=clang CXX=clang++ configure_and_build build-fuzz fuzzers -DL1VMM_FUZZ=ON -DL1VMM_PERF=OFF
  # two at a time: each runs for a fixed time (12 s), the machine has 2 CPUs
  ctest --test-dir build-fuzz --output-on-failure -j 2 -L fuzz
  ;;
*)
  echo "usage: ./build.sh demo|test" >&2
  exit 2
  ;;
esac
