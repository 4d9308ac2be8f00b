#!/usr/bin/env bash
# The one prepared script for the lent GPU machine (no package registry; PyTorch 2.x with CUDA,
# CMake, ninja and transformers there). In about 8 minutes it
#   1. builds ablate against the machine's CUDA LibTorch and the packages of .gpu-bundle
#      (scripts/gpu-bundle, run here and carried along), warnings not fatal;
#   2. runs the CUDA tests (tests/core/cuda_test.cpp), the model tests against the Python
#      reference under that PyTorch (the LibTorch 2.x attention path), and the trainer tests;
#   3. trains the smoke grid with --device cuda on the small corpus;
#   4. exports runs and loads them with transformers itself (ABLATE_HF_TRANSFORMERS=1);
#   5. benchmarks BERT-base at seq 512 in bf16: ours (bench/gpu_bench.cpp) against the same model
#      as Hugging Face writes it (bench/gpu_peer.py), tokens/s and model FLOPs utilization.
# Each step's log goes to $OUT (the device tool brings it back), with summary.txt holding one line
# per step and the benchmark lines. A step that fails is logged and the next one still runs.
#
# From the development machine (the device tool's `run`):
#   scripts/gpu-bundle                    # once, here: .gpu-bundle/ (ignored by git)
#   run: bash bench/gpu.sh   carry: [".gpu-bundle", "data/gpt2"]
#
#   BATCH (default 128) sequences per benchmark step; PYTHON (default python3) the torch to use.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/build-gpu/out}"
build="${BUILD_DIR:-$root/build-gpu}"
python="${PYTHON:-python3}"
batch="${BATCH:-128}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
# The whole script ends within 8 minutes (a 15-minute device budget then allows a rerun).
deadline=$((SECONDS + ${GPU_SECONDS:-470}))
# step NAME SECONDS COMMAND...: runs it with a time limit (cut to what is left of the 8 minutes),
# its output in $out/NAME.log.
step() {
  local name=$1 limit=$2 start=$SECONDS rc=0
  shift 2
  [ $((deadline - SECONDS)) -lt "$limit" ] && limit=$((deadline - SECONDS))
  if [ "$limit" -le 0 ]; then
    note "gpu.sh: $name skipped (out of time)"
    return 124
  fi
  timeout "$limit" "$@" >"$out/$name.log" 2>&1 || rc=$?
  note "gpu.sh: $name exit $rc ($((SECONDS - start)) s)"
  return $rc
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$python" -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, "python", sys.version.split()[0])'
  "$python" -c 'import transformers; print("transformers", transformers.__version__)'
  cmake --version | head -1; ninja --version; c++ --version | head -1; nvcc --version | tail -1
} >"$out/machine.txt" 2>&1
note "gpu.sh: $(head -2 "$out/machine.txt" | paste -sd' ')"
if [ ! -f "$root/.gpu-bundle/PACKAGES" ]; then
  note "gpu.sh: no .gpu-bundle: run scripts/gpu-bundle on the development machine and carry it"
  exit 1
fi
prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
[ -z "${CUDA_HOME:-}" ] && [ -d /usr/local/cuda ] && export CUDA_HOME=/usr/local/cuda

step configure 120 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DABLATE_BUNDLE="$root/.gpu-bundle" -DCMAKE_PREFIX_PATH="$prefix" -DABLATE_WERROR=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER= || { tail -40 "$out/configure.log"; exit 1; }
step build 300 cmake --build "$build" -j"$(nproc)" --target ablate ablate-train test_cuda \
  test_model test_trainer test_hf_export bench_gpu || { grep -m20 -B2 -A6 "error" "$out/build.log"; exit 1; }

export ABLATE_PYTHON="$python"
step cuda_tests 120 "$build/bin/test_cuda" --durations yes
step model_tests 120 "$build/bin/test_model"
step trainer_tests 120 "$build/bin/test_trainer"
data="${ABLATE_DATA_DIR:-$root/data}"
step smoke_cuda 120 "$build/bin/ablate" run "$root/experiments/smoke.json" --db "$build/smoke.db" \
  --device cuda --data-dir "$data" --runs-dir "$build/runs" \
  --set "data.corpus=$root/tests/data/corpus_small"
"$build/bin/ablate" sql --db "$build/smoke.db" "SELECT r.key, r.status, f.name, f.value FROM runs r \
  JOIN final_metrics f ON f.run_id = r.id WHERE f.name IN ('valid/ppl', 'train/tokens_per_s') \
  ORDER BY 1, 3" >>"$out/smoke_cuda.log" 2>&1
ABLATE_HF_TRANSFORMERS=1 step hf_transformers 120 "$build/bin/test_hf_export" --success

step bench_ours 180 "$build/bin/bench_gpu" "$batch" 10
step bench_peer 180 "$python" "$root/bench/gpu_peer.py" "$batch" 10
ours=$(sed -n 's/.*tokens\/s=\([0-9.]*\).*/\1/p' "$out/bench_ours.log" | head -1)
mfu=$(sed -n 's/.* mfu=\([0-9.]*\).*/\1/p' "$out/bench_ours.log" | head -1)
peer=$(sed -n 's/^gpu_peer: tokens\/s=\([0-9.]*\).*/\1/p' "$out/bench_peer.log" | head -1)
grep -h "^gpu_" "$out/bench_ours.log" "$out/bench_peer.log" | tee -a "$summary"
if [ -n "$ours" ] && [ -n "$peer" ]; then
  note "gpu_bert_base_seq512: ours=$ours peer=$peer ratio=$(awk "BEGIN{printf \"%.2f\", $ours/$peer}") (tokens/s, BERT-base seq 512 bf16, batch $batch; peer: transformers RobertaForMaskedLM, SDPA, fused AdamW)"
  note "gpu_mfu: ours=$mfu (model FLOPs / measured dense bf16 matmul rate)"
fi
