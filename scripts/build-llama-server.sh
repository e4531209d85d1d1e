#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only, Release, statically linked
# llama/ggml) for llmmr's integration tests against a real server.
#
# The source is the llama.cpp that the npm package node-llama-cpp@3.22.1
# ships as a git bundle (llama/gitRelease.bundle, llama.cpp 0.5.0-dev): npm is
# the only way in here, so `npm pack` fetches it and `git clone` unpacks it.
#
# Output, under $LLMMR_LLAMA_DIR (default: <repo>/build/llama.cpp):
#   bin/llama-server      the binary (stable path; tests look for it there)
#   llama-server.stamp    what was built; a matching stamp skips everything
#   dl/  src/  build/     the npm tarball, the checkout, the CMake build tree
#
# Safe to run again: when the stamp matches and the binary is there it exits
# 0 at once. Exit status: 0 built or already built; 1 a step failed (the
# message names it); 2 bad usage.
#
# usage: scripts/build-llama-server.sh [--force] [--print-path]
#   --force       rebuild even when the stamp matches
#   --print-path  print the binary's path and exit (0 if it is built, else 1)
set -euo pipefail

# ---- what is built ----------------------------------------------------------
npm_package=node-llama-cpp
npm_version=3.22.1
# `npm pack` prints the tarball's sha1 ("shasum"); pinned so a changed
# tarball is noticed rather than silently built.
npm_shasum=e908932762f21939024263d58f1d6dc3e88b23e6
# The commit the bundle's HEAD points at (tag v0.5.0 in llama.cpp.info.json;
# CMake calls it 0.5.0-dev; one squashed commit, detached HEAD, no branches).
llama_commit=de3ff815ea7d559ee917f063901b8986f038abc6

# CPU only, no network at configure/build time, only what llama-server needs.
cmake_flags=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF           # llama, ggml, mtmd, httplib linked in
  -DGGML_NATIVE=OFF                 # no -march=native: see docs/llama-server.md
  -DGGML_OPENMP=OFF                 # ggml's own thread pool; no libgomp needed
  -DGGML_BUILD_TESTS=OFF
  -DGGML_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON            # the server lives under tools/
  -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_UI=OFF              # would run npm to build the web UI
  -DLLAMA_USE_PREBUILT_UI=OFF       # would download the web UI
  -DLLAMA_OPENSSL=OFF               # no HTTPS (model downloads); LLAMA_CURL is gone
  -DLLAMA_LLGUIDANCE=OFF            # would fetch a Rust crate
)
build_target=llama-server

# ---- paths and options ------------------------------------------------------
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
llama_dir=${LLMMR_LLAMA_DIR:-$here/build/llama.cpp}
bin="$llama_dir/bin/llama-server"
stamp_file="$llama_dir/llama-server.stamp"

force=0
print_path=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --print-path) print_path=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-llama-server: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

# The stamp names everything that decides the binary, so a change of version
# or of flags rebuilds, and nothing else does.
stamp="$npm_package@$npm_version llama.cpp@$llama_commit target=$build_target ${cmake_flags[*]}"

is_built() {
  [ -x "$bin" ] && [ -f "$stamp_file" ] && [ "$(head -n 1 "$stamp_file")" = "$stamp" ]
}

if [ "$print_path" -eq 1 ]; then
  echo "$bin"
  is_built
  exit
fi

if [ "$force" -eq 0 ] && is_built; then
  echo "build-llama-server: up to date ($npm_package@$npm_version, llama.cpp ${llama_commit:0:7}): $bin"
  exit 0
fi

# ---- error reporting ----------------------------------------------------------
step="start"
log() { echo "build-llama-server: $*"; }
on_error() {
  local rc=$?
  echo "build-llama-server: FAILED at step '$step' (exit $rc)" >&2
  [ -n "${step_hint:-}" ] && echo "build-llama-server: $step_hint" >&2
  exit 1
}
trap on_error ERR
begin() { step=$1; step_hint=${2:-}; log "[$step]"; }

mkdir -p "$llama_dir"
# One build at a time per directory (setup.sh from two shells, say).
exec 9>"$llama_dir/.lock"
if ! flock -n 9; then
  log "another build holds $llama_dir/.lock; waiting"
  flock 9
  if [ "$force" -eq 0 ] && is_built; then
    log "built meanwhile: $bin"
    exit 0
  fi
fi

# ---- tools ----------------------------------------------------------------------
begin "tools" "needs root or sudo to install missing Debian packages"
# Packages the build needs beyond setup.sh's (git clones the bundle).
packages=(git g++ cmake make)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "build-llama-server: need root or sudo to install: ${missing[*]}" >&2; false
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v npm >/dev/null 2>&1; then
  step_hint="npm is not installed (it comes with Node.js); it fetches the llama.cpp source"
  false
fi

# ---- fetch ----------------------------------------------------------------------
tarball="$llama_dir/dl/$npm_package-$npm_version.tgz"
if [ -f "$tarball" ] && [ "$(sha1sum "$tarball" | cut -d' ' -f1)" = "$npm_shasum" ]; then
  begin "fetch"
  log "have $tarball"
else
  begin "fetch" "'npm pack $npm_package@$npm_version' failed: is npm's registry reachable (network, proxy, npm config)?"
  rm -rf "$llama_dir/dl"
  mkdir -p "$llama_dir/dl"
  # --prefer-offline: npm's own cache answers when it has the tarball.
  (cd "$llama_dir/dl" && npm pack --loglevel=error --prefer-offline "$npm_package@$npm_version" >/dev/null)
  step_hint="unexpected tarball from npm"
  [ -f "$tarball" ]
  got=$(sha1sum "$tarball" | cut -d' ' -f1)
  if [ "$got" != "$npm_shasum" ]; then
    step_hint="$tarball has sha1 $got, expected $npm_shasum"
    false
  fi
fi

# ---- source ---------------------------------------------------------------------
src="$llama_dir/src"
if [ -d "$src/.git" ] && [ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" = "$llama_commit" ] \
   && [ -z "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  begin "source"
  log "have $src at ${llama_commit:0:7}"
else
  begin "source" "could not unpack llama/gitRelease.bundle from $tarball"
  tmp="$llama_dir/tmp"
  rm -rf "$tmp" "$src"
  mkdir -p "$tmp"
  tar -xzf "$tarball" -C "$tmp" package/llama/gitRelease.bundle
  bundle="$tmp/package/llama/gitRelease.bundle"
  head=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" {print $1}')
  if [ "$head" != "$llama_commit" ]; then
    step_hint="the bundle's HEAD is '${head:-none}', expected $llama_commit"
    false
  fi
  # The bundle holds HEAD only (no branch), so the clone is a detached HEAD.
  git -c advice.detachedHead=false clone -q "$bundle" "$src"
  rm -rf "$tmp"
fi

# ---- configure ------------------------------------------------------------------
begin "configure" "cmake could not configure $src (see the output above)"
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Relative paths in the compile commands let a fresh clone of llmmr in
  # another folder (as CI makes) hit the cache of an earlier build.
  export CCACHE_BASEDIR="$llama_dir"
fi
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$llama_dir/build/Makefile" ]; then
  generator=(-G Ninja)
fi
cmake -S "$src" -B "$llama_dir/build" "${generator[@]}" "${cmake_flags[@]}" "${launcher[@]}" \
  -Wno-dev >"$llama_dir/configure.log" 2>&1 || { tail -n 30 "$llama_dir/configure.log" >&2; false; }

# ---- build ----------------------------------------------------------------------
jobs=$(nproc 2>/dev/null || echo 2)
begin "build" "compiling $build_target failed (see the output above)"
log "building $build_target with $jobs jobs (about 8 minutes on 2 cores without ccache)"
start=$(date +%s)
cmake --build "$llama_dir/build" --target "$build_target" -j "$jobs"
log "compiled in $(( $(date +%s) - start )) s"

# ---- install --------------------------------------------------------------------
begin "install" "the built binary does not run"
built="$llama_dir/build/bin/llama-server"
"$built" --version >/dev/null 2>&1
mkdir -p "$llama_dir/bin"
cp "$built" "$bin.tmp"
mv -f "$bin.tmp" "$bin"
{
  echo "$stamp"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/build-llama-server.sh"
  "$bin" --version 2>&1 | grep -E '^(version|built with)' || true
} >"$stamp_file"
log "done: $bin"
