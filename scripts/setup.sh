#!/usr/bin/env bash
# Install what l1vmm needs to build, test and benchmark, from Debian's packages.
# Idempotent and non-interactive: packages already installed are not touched, and
# apt-get runs (update once, then install) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config        # the build
  clang libclang-rt-14-dev                # libFuzzer targets
  libxxhash-dev libjemalloc-dev libnuma-dev libfuse3-dev fuse3
  libzstd-dev liblz4-dev libseccomp-dev   # VMM dependencies (docs/design.md)
  libmicrohttpd-dev                       # --metrics (HTTP)
  prometheus man-db                       # tests: promtool and a real scrape; man -l
  libcmocka-dev                           # unit tests
  libbenchmark-dev gnuplot-nox jq hyperfine  # perf/
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v python3 >/dev/null || missing+=(python3)   # integration test driver

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "setup: missing packages (${missing[*]}) and not root: run this script as root" >&2
    exit 2
  fi
else
  SUDO=
fi
echo "setup: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
