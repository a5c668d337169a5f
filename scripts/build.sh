#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure and build virt-trace: build/ with Release flags (gcc), or with
# --asan build-asan/ with clang, AddressSanitizer and UBSan (-DVT_SANITIZE=ON) and the
# libFuzzer harnesses (-DVT_FUZZ=ON).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=release
extra=()

usage()
{
	cat <<USAGE
usage: ${0##*/} [--asan] [-- CMAKE-ARGS...]

  (default)  $root/build: CMAKE_BUILD_TYPE=Release, -O2 -D_FORTIFY_SOURCE=2
             -fstack-protector-strong
  --asan     $root/build-asan: clang, -DVT_SANITIZE=ON (ASan + UBSan), -O1 -g,
             -DVT_FUZZ=ON (libFuzzer harnesses of tests/fuzz, ctest -L fuzz)
USAGE
}

while [ $# -gt 0 ]; do
	case $1 in
	--asan) mode=asan ;;
	-h|--help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

command -v cmake >/dev/null || { echo "${0##*/}: cmake not found (run scripts/install-deps.sh)" >&2; exit 1; }

if [ $mode = release ]; then
	dir=$root/build
	cfg=(-DCMAKE_BUILD_TYPE=Release
		"-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG -D_FORTIFY_SOURCE=2 -fstack-protector-strong")
else
	dir=$root/build-asan
	command -v clang >/dev/null || { echo "${0##*/}: clang not found (run scripts/install-deps.sh)" >&2; exit 1; }
	cfg=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo
		"-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g" -DVT_SANITIZE=ON -DVT_FUZZ=ON)
fi

cmake -S "$root" -B "$dir" "${cfg[@]}" "${extra[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
echo "${0##*/}: built $dir"
