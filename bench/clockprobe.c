// How fast this core runs right now, for reading the JSON timings of `make bench`, which runs it
// before and after each JSON run. Prints two figures:
//
//   clock           GHz: the rate of a chain of dependent register-to-register adds (each waits
//                   for the one before it: one cycle each on x86_64 and ARMv8 cores). Not `add $1`
//                   with an immediate: recent Intel cores fold chains of those in the renamer
//                   (here they ran 1.7 times as fast as the clock; a chain of `imul`, 3 cycles
//                   each, agreed with the register adds).
//   adds per cycle  four independent chains of adds at once, per cycle of that clock: how much of
//                   the core's execution width this thread gets. On this shared machine it is
//                   about 3.5 when the core is ours alone and about 2.1 when another hardware
//                   thread on the same core is busy; the JSON pair (about 3 instructions per
//                   cycle) takes half as long again in the second case, at the same clock.
//
// Each figure is the fastest of 25 trials of a few milliseconds (shorter than a scheduler time
// slice): the fastest trial ran without being interrupted, as the benchmark's median iteration did.
//
//   clockprobe      prints e.g. "2.77 3.45"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

#if defined(__x86_64__)
#define ADD(r) "add %[one], %" #r "\n\t"
#elif defined(__aarch64__)
#define ADD(r) "add %" #r ", %" #r ", %[one]\n\t"
#else
#error "clockprobe: x86_64 or aarch64 only"
#endif

/// Dependent adds per nanosecond.
static double chain(long iterations) {
    long x = 0, one = 1;
    double t = now_ns();
    for (long i = 0; i < iterations; i++) __asm__ volatile(ADD(0) ADD(0) ADD(0) ADD(0) : "+r"(x) : [one] "r"(one));
    t = now_ns() - t;
    if (x != 4 * iterations) abort();
    return 4.0 * (double)iterations / t;
}

/// Adds per nanosecond in four independent chains.
static double parallel(long iterations) {
    long a = 0, b = 0, c = 0, d = 0, one = 1;
    double t = now_ns();
    for (long i = 0; i < iterations; i++)
        __asm__ volatile(ADD(0) ADD(1) ADD(2) ADD(3) ADD(0) ADD(1) ADD(2) ADD(3)
                         : "+r"(a), "+r"(b), "+r"(c), "+r"(d) : [one] "r"(one));
    t = now_ns() - t;
    if (a + b + c + d != 8 * iterations) abort();
    return 8.0 * (double)iterations / t;
}

int main(void) {
    double clock = 0, width = 0;
    for (int i = 0; i < 25; i++) {
        double g = chain(2000000L), w = parallel(2000000L);
        if (g > clock) clock = g;
        if (w > width) width = w;
    }
    printf("%.2f %.2f\n", clock, width / clock);
    return 0;
}
