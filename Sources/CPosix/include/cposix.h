// CPosix: a small C shim over POSIX sockets, poll, getaddrinfo and clocks, shaped so that
// (Embedded) Swift can call it without touching `errno`, macros or variadic functions.
//
// Conventions:
// - Functions that can fail return a negative errno value (`-ECONNREFUSED`, ...) on failure
//   and a non-negative value on success. `cposix_errno()` is there for callers that need the
//   raw thread-local errno after some other call.
// - Every function retries EINTR internally where that is meaningful (poll, connect wait);
//   `cposix_send`/`cposix_recv` report EINTR as `-EINTR` so a non-blocking caller can treat it
//   as "would block".
// - Nothing here allocates except `cposix_tcp_connect` (getaddrinfo).
#ifndef CPOSIX_H
#define CPOSIX_H

#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

// errno values the Swift side maps onto `TransportError` (imported as `Int32` constants).
static const int32_t CPOSIX_EAGAIN = EAGAIN;
static const int32_t CPOSIX_EWOULDBLOCK = EWOULDBLOCK;
static const int32_t CPOSIX_EINTR = EINTR;
static const int32_t CPOSIX_EINPROGRESS = EINPROGRESS;
static const int32_t CPOSIX_ECONNREFUSED = ECONNREFUSED;
static const int32_t CPOSIX_EHOSTUNREACH = EHOSTUNREACH;
static const int32_t CPOSIX_ENETUNREACH = ENETUNREACH;
static const int32_t CPOSIX_ETIMEDOUT = ETIMEDOUT;
static const int32_t CPOSIX_ECONNRESET = ECONNRESET;
static const int32_t CPOSIX_ECONNABORTED = ECONNABORTED;
static const int32_t CPOSIX_EPIPE = EPIPE;
static const int32_t CPOSIX_EBADF = EBADF;
static const int32_t CPOSIX_ENOTCONN = ENOTCONN;
static const int32_t CPOSIX_EINVAL = EINVAL;

/// Returned by `cposix_tcp_connect` when getaddrinfo failed; the EAI_* code is stored in
/// `*gai_error`. Outside the errno range (errno values are < 4096).
static const int32_t CPOSIX_ERESOLVE = -0x10000;

/// Bits returned by `cposix_poll`.
static const int32_t CPOSIX_POLL_READABLE = 1;  // POLLIN
static const int32_t CPOSIX_POLL_WRITABLE = 2;  // POLLOUT
static const int32_t CPOSIX_POLL_HANGUP = 4;    // POLLHUP or POLLRDHUP
static const int32_t CPOSIX_POLL_ERROR = 8;     // POLLERR or POLLNVAL

/// The calling thread's current errno.
int32_t cposix_errno(void);

// MARK: - Connecting

/// Resolves `host` (a NUL-terminated name or numeric IPv4/IPv6 address) with getaddrinfo
/// (AF_UNSPEC, SOCK_STREAM) and tries each address in turn with a non-blocking connect, each
/// attempt getting a fair share of what is left of `timeout_ms` (the last one gets all of it).
/// The winning socket is left non-blocking with TCP_NODELAY on and FD_CLOEXEC set.
///
/// Returns the connected descriptor (>= 0), or:
/// - `CPOSIX_ERESOLVE` with `*gai_error` set to the EAI_* code if resolution failed;
/// - `-ETIMEDOUT` if the time ran out;
/// - otherwise the negative errno of the last address that failed.
/// `gai_error` may be NULL.
int32_t cposix_tcp_connect(const char *host, uint16_t port, int32_t timeout_ms, int32_t *gai_error);

/// Waits up to `timeout_ms` for a non-blocking connect on `fd` to finish (poll for POLLOUT,
/// then SO_ERROR). Returns 0 when connected, `-ETIMEDOUT` on timeout, or the negative errno
/// of the failed connect.
int32_t cposix_connect_finish(int32_t fd, int32_t timeout_ms);

/// Sets O_NONBLOCK on `fd`. Returns 0 or a negative errno.
int32_t cposix_set_nonblocking(int32_t fd);

/// Turns TCP_NODELAY (Nagle off) on for `fd`. Returns 0 or a negative errno.
int32_t cposix_set_nodelay(int32_t fd);

// MARK: - I/O

/// send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT): bytes sent (>= 0) or a negative errno
/// (`-EAGAIN`/`-EWOULDBLOCK`/`-EINTR` mean "try later"; `-EPIPE` is reported, never SIGPIPE).
intptr_t cposix_send(int32_t fd, const void *buf, size_t len);

/// recv(fd, buf, len, MSG_DONTWAIT): bytes received (> 0), 0 on orderly shutdown by the peer,
/// or a negative errno.
intptr_t cposix_recv(int32_t fd, void *buf, size_t len);

/// Polls `fd` for readability (`want_read != 0`) and/or writability (`want_write != 0`) for up
/// to `timeout_ms` milliseconds (0 polls, negative waits forever). EINTR is retried with the
/// remaining time. Returns a mask of `CPOSIX_POLL_*` bits (0 on timeout) or a negative errno.
int32_t cposix_poll(int32_t fd, int32_t want_read, int32_t want_write, int32_t timeout_ms);

/// write(fd, buf, len) until all of it is written (EINTR retried): `len`, or a negative errno.
/// For plain output (logs) from programs that link no stdio formatting, such as Embedded Swift
/// programs without `String`.
intptr_t cposix_write_all(int32_t fd, const void *buf, size_t len);

/// close(fd). Returns 0 or a negative errno. (EINTR is not retried: on Linux the descriptor is
/// released regardless.)
int32_t cposix_close(int32_t fd);

// MARK: - Clocks

/// CLOCK_MONOTONIC in milliseconds.
int64_t cposix_monotonic_ms(void);

/// Sleeps the calling thread for `ms` milliseconds (nanosleep, resumed after EINTR with the
/// time left). Does nothing for `ms <= 0`.
void cposix_sleep_ms(int64_t ms);

/// CLOCK_REALTIME split into whole seconds and microseconds since the Unix epoch.
typedef struct cposix_wall_time {
    int64_t seconds;
    int32_t microseconds;
} cposix_wall_time;

/// The current wall-clock time (CLOCK_REALTIME).
cposix_wall_time cposix_wall_clock(void);

/// A broken-down UTC time (like `struct tm`, but with a full year and a 1-based month).
typedef struct cposix_calendar {
    int32_t year;      // e.g. 2025
    int32_t month;     // 1...12
    int32_t day;       // 1...31
    int32_t hour;      // 0...23
    int32_t minute;    // 0...59
    int32_t second;    // 0...60
    int32_t weekday;   // 0 = Sunday ... 6
    int32_t yearday;   // 0...365
} cposix_calendar;

/// Splits `unix_seconds` into UTC calendar fields with gmtime_r. Returns 0, or `-EOVERFLOW`
/// if the time cannot be represented (then `*out` is zeroed).
int32_t cposix_gmtime(int64_t unix_seconds, cposix_calendar *out);

// MARK: - Byte order (inline, no libc call)

static inline uint16_t cposix_htons(uint16_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap16(v);
#else
    return v;
#endif
}
static inline uint16_t cposix_ntohs(uint16_t v) { return cposix_htons(v); }
static inline uint32_t cposix_htonl(uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
}
static inline uint32_t cposix_ntohl(uint32_t v) { return cposix_htonl(v); }

#ifdef __cplusplus
}
#endif

#endif // CPOSIX_H
