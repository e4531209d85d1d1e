#!/usr/bin/env bash
# Installs llmmr's build dependencies from Debian's packages, builds the
# project into ./build and then llama.cpp's llama-server for the integration
# tests (scripts/build-llama-server.sh, into BUILD_DIR/llama.cpp or
# $LLMMR_LLAMA_DIR). Safe to run again: packages already present are not
# reinstalled, the build is incremental and a built llama-server is skipped.
# A failed llama-server build fails setup when CI=true and only warns
# otherwise (the tests that need it then skip).
#
# usage: scripts/setup.sh [--no-build] [--no-llama-server] [--build-dir DIR]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$here/build"
do_build=1
do_llama=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --no-llama-server) do_llama=0 ;;
    --build-dir) build_dir=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

# Exactly what the build needs, and rsvg-convert (librsvg2-bin) to look at
# the SVG pictures the evaluation commands draw; nothing else.
packages=(g++ cmake make ccache libcaf-dev libboost1.81-dev libboost-url1.81-dev
          libcli11-dev nlohmann-json3-dev
          libspdlog-dev doctest-dev libssl-dev openssl libpcre2-dev
          libutf8proc-dev pkg-config librsvg2-bin)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present (${packages[*]})"
fi

if [ "$do_build" -eq 1 ]; then
  jobs=$(nproc 2>/dev/null || echo 2)
  echo "setup: configuring and building in $build_dir with $jobs jobs"
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j "$jobs"
  echo "setup: done; the program is $build_dir/bin/llmmr"
fi

if [ "$do_build" -eq 1 ] && [ "$do_llama" -eq 1 ]; then
  if ! LLMMR_LLAMA_DIR=${LLMMR_LLAMA_DIR:-$build_dir/llama.cpp} \
       "$here/scripts/build-llama-server.sh"; then
    if [ "${CI:-}" = "true" ]; then
      echo "setup: llama-server did not build, and CI needs it" >&2
      exit 1
    fi
    echo "setup: WARNING: llama-server did not build; the tests against a real" \
         "llama.cpp server will skip (run scripts/build-llama-server.sh again to retry)" >&2
  fi
fi
