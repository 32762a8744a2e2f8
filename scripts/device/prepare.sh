#!/usr/bin/env bash
# Builds the GPU programs here (sm_90a, no GPU needed) and stages them in .device/ (git-ignored) for a
# run on the lent H100/H200, whose image has CUDA 13 and PyTorch but none of our Debian -dev packages.
# Carry .device to the device and run scripts/device/run.sh there. Usage: scripts/device/prepare.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build-gpu"
stage="$root/.device"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real -DROOFLINE_ENABLE_CUDA=ON \
  -DROOFLINE_GPU_TESTS=ON -DROOFLINE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "${ROOFLINE_JOBS:-2}"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib" "$stage/obj"
# Every executable under validate/ and the CLI.
while IFS= read -r f; do cp "$f" "$stage/bin/"; done < <(find "$build/validate" "$build/apps" -type f -executable \
  ! -name "*.so*" ! -name "example*" ! -name "guide_*" ! -path "*/CMakeFiles/*" | sort)
# Object files of the kernels, for the SASS checks (cuobjdump runs there).
while IFS= read -r f; do
  rel="${f#"$build"/}"
  mkdir -p "$stage/obj/$(dirname "$rel")"
  cp "$f" "$stage/obj/$rel"
done < <(find "$build/validate/kernels" -name "*.cu.o" | sort)
# Shared libraries the device image may lack: everything outside glibc/libstdc++ and the CUDA toolkit.
for b in "$stage"/bin/*; do
  ldd "$b" 2>/dev/null | awk '/=> \//{print $3}'
done | sort -u | while read -r lib; do
  case "$lib" in
    */libc.so*|*/libutil.so*|*/libm.so*|*/libdl.so*|*/libpthread.so*|*/librt.so*|*/libgcc_s.so*|*/libstdc++.so*|*/ld-linux*) ;;
    /usr/local/cuda*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
strip "$stage"/bin/* 2>/dev/null || true
du -sh "$stage" "$stage"/*
ls "$stage/bin" "$stage/lib"
