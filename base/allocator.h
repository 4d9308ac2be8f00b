#pragma once
// The C allocator's settings for a process that trains. A training step frees and reallocates
// the same activation and gradient buffers (hundreds of KB to MB) every step; glibc's defaults
// return them to the kernel (mmap/munmap above its threshold, heap trimming below), so every
// step paid page faults and page zeroing again: 13% of the micro run's time in the kernel,
// measured with perf. Keeping freed memory for reuse took one worker of the micro demo's shape
// from 39.8-46.7K to 54.9-57.1K tokens/s (400 updates, two runs each) for about 10 MB more peak
// RSS; bench_model's larger shapes did not change (docs/benchmarks.md).
namespace ablate {

// Serves allocations below 64 MB from the heap and trims it only above 256 MB free. A no-op
// where the C library is not glibc. Call once, at start-up, before the first tensor.
void KeepFreedMemoryForReuse();

}  // namespace ablate
