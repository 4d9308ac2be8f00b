#!/usr/bin/env bash
# Builds bench/gpu_bench.cpp against the CUDA LibTorch of this machine's Python torch and runs it:
# BERT-base pretraining tokens/s and model FLOPs utilization at sequence length 512 (bf16
# autocast, TF32 on), against the chip's dense bf16 matmul rate measured in the same process.
# It compiles only the sources the benchmark needs, as a small CMake project of its own, so the
# GPU machine needs a C++20 compiler, CMake, torch and the CUDA toolkit torch was built with, and
# none of the project's other dependencies (SQLite, Boost, PCRE2, ...).
#
# Usage: bench/gpu.sh [BATCH [STEPS]]
#   PYTHON     interpreter whose torch to use (default python3)
#   BUILD_DIR  where to build (default build/gpu in the repository)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
build="${BUILD_DIR:-$root/build/gpu}"

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "gpu: skipped ($python cannot import torch)"
  exit 0
fi
if [ -z "$("$python" -c 'import torch; print(torch.version.cuda or "")')" ]; then
  echo "gpu: skipped (this torch is built without CUDA)"
  exit 0
fi
prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"

mkdir -p "$build/project"
cat >"$build/project/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(ablate_gpu_bench LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
find_package(Torch REQUIRED)
if(NOT TARGET torch_cuda)
  message(FATAL_ERROR "the LibTorch under ${prefix} has no CUDA")
endif()
add_executable(bench_gpu
  "${root}/bench/gpu_bench.cpp"
  "${root}/core/batch_tensors.cpp"
  "${root}/core/error.cpp"
  "${root}/core/fused_ops.cpp"
  "${root}/core/model.cpp"
  "${root}/core/optimizer.cpp")
target_include_directories(bench_gpu PRIVATE "${root}")
# No OpenMP here: only CPU tensors would use it, and torch wheels bring their own runtime.
# Warnings stay visible but not fatal: a newer torch's headers must not stop a measurement.
target_compile_options(bench_gpu PRIVATE -Wall -Wextra)
target_link_libraries(bench_gpu PRIVATE \${TORCH_LIBRARIES})
set_source_files_properties("${root}/core/fused_ops.cpp"
  PROPERTIES COMPILE_OPTIONS "-O3;-fno-math-errno")
EOF

cmake -S "$build/project" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  >"$build/configure.log" || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" >"$build/build.log" || { tail -50 "$build/build.log"; exit 1; }
"$build/bench_gpu" "$@"
