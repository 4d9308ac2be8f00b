#include "base/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ablate {

void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  // Setting either value turns off glibc's dynamic threshold, so both are set.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

}  // namespace ablate
