// Allocation counter: see include/calloc_counter.h.
//
// Each wrapper forwards to the glibc implementation through its exported __libc_* alias
// (GLIBC_2.2.5), so no dlsym (which itself allocates) is needed and there is no bootstrap
// problem. The counters are initial-exec TLS in the executable: reading or bumping them never
// allocates (unlike dynamic TLS in a dlopen'ed object).
#include "calloc_counter.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

#define CC_EXPORT __attribute__((visibility("default"), used))

static __thread uint64_t thread_allocations __attribute__((tls_model("initial-exec")));
static __thread uint64_t thread_frees __attribute__((tls_model("initial-exec")));
static volatile int active;

static inline void count_allocation(void) {
    thread_allocations++;
    active = 1;
}

uint64_t calloc_counter_thread_allocations(void) { return thread_allocations; }
uint64_t calloc_counter_thread_frees(void) { return thread_frees; }
int calloc_counter_is_active(void) { return active; }

CC_EXPORT void *malloc(size_t size) {
    count_allocation();
    return __libc_malloc(size);
}

CC_EXPORT void *calloc(size_t count, size_t size) {
    count_allocation();
    return __libc_calloc(count, size);
}

CC_EXPORT void *realloc(void *ptr, size_t size) {
    // realloc(p, 0) frees; anything else may allocate.
    if (size != 0 || ptr == NULL) count_allocation();
    else thread_frees++;
    return __libc_realloc(ptr, size);
}

CC_EXPORT void free(void *ptr) {
    if (ptr != NULL) thread_frees++;
    __libc_free(ptr);
}

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

CC_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    count_allocation();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

CC_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    count_allocation();
    return __libc_memalign(alignment, size);
}

CC_EXPORT void *memalign(size_t alignment, size_t size) {
    count_allocation();
    return __libc_memalign(alignment, size);
}

CC_EXPORT void *valloc(size_t size) {
    count_allocation();
    return __libc_valloc(size);
}

CC_EXPORT void *pvalloc(size_t size) {
    count_allocation();
    return __libc_pvalloc(size);
}
