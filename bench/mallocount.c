/*
 * An LD_PRELOAD heap-allocation counter, the same for every process it is loaded into.
 *
 *   cc -O2 -shared -fPIC bench/mallocount.c -o libmallocount.so
 *   LD_PRELOAD=./libmallocount.so MALLOCOUNT_OUT=/tmp/counts ./program
 *
 * Counts every call of malloc, calloc, realloc (also realloc(NULL, n)), posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc, plus the bytes asked for; forwards to glibc's
 * __libc_* entry points. A process can read the counters itself (dlsym(RTLD_DEFAULT,
 * "mc_allocs") / "mc_bytes"); at exit they are written to $MALLOCOUNT_OUT as "allocs bytes\n".
 * Allocations per request in steady state = the difference between two runs with different
 * request counts, divided by the difference in requests (start-up and shutdown cancel out).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

static uint64_t allocs, bytes;

static inline void count(size_t n) {
    __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&bytes, n, __ATOMIC_RELAXED);
}

uint64_t mc_allocs(void) { return __atomic_load_n(&allocs, __ATOMIC_RELAXED); }
uint64_t mc_bytes(void) { return __atomic_load_n(&bytes, __ATOMIC_RELAXED); }

void *malloc(size_t n) { count(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(n); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t al, size_t n) { count(n); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { count(n); return __libc_memalign(al, n); }
void *valloc(size_t n) { count(n); return __libc_valloc(n); }
void *pvalloc(size_t n) { count(n); return __libc_pvalloc(n); }
int posix_memalign(void **out, size_t al, size_t n) {
    if (al < sizeof(void *) || (al & (al - 1)) != 0) return EINVAL;
    count(n);
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static void put_u64(char *buf, size_t *at, uint64_t v) {
    char tmp[24];
    int k = 0;
    do { tmp[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (k) buf[(*at)++] = tmp[--k];
}

__attribute__((destructor)) static void mc_report(void) {
    const char *path = getenv("MALLOCOUNT_OUT");
    if (!path || !*path) return;
    uint64_t a = mc_allocs(), b = mc_bytes();
    char buf[64];
    size_t at = 0;
    put_u64(buf, &at, a);
    buf[at++] = ' ';
    put_u64(buf, &at, b);
    buf[at++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, buf, at);
    (void)w;
    close(fd);
}
