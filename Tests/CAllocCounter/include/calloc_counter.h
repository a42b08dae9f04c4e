// CAllocCounter: counts heap allocations made by the calling thread.
//
// calloc_counter.c defines malloc, calloc, realloc, free, posix_memalign, aligned_alloc,
// memalign, valloc and pvalloc. Linked into the test executable, these definitions interpose
// on glibc's for the whole process (the executable comes first in symbol lookup, so calls from
// libswiftCore, Foundation, ... land here too). Each forwards to glibc's __libc_* entry point
// and bumps a thread-local counter, so tests running in parallel on other threads do not
// disturb a measurement.
#ifndef CALLOC_COUNTER_H
#define CALLOC_COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Allocations (malloc, calloc, realloc with a non-zero size, posix_memalign, aligned_alloc,
/// memalign, valloc, pvalloc) made so far by the calling thread.
uint64_t calloc_counter_thread_allocations(void);

/// free() calls with a non-NULL pointer made so far by the calling thread.
uint64_t calloc_counter_thread_frees(void);

/// Non-zero once the interposed allocator has been entered at least once in this process
/// (any thread), i.e. the override is linked and active.
int calloc_counter_is_active(void);

#ifdef __cplusplus
}
#endif

#endif // CALLOC_COUNTER_H
