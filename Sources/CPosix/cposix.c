#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "cposix.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

int32_t cposix_errno(void) { return (int32_t)errno; }

int64_t cposix_monotonic_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

void cposix_sleep_ms(int64_t ms) {
    if (ms <= 0) return;
    struct timespec req;
    req.tv_sec = (time_t)(ms / 1000);
    req.tv_nsec = (long)((ms % 1000) * 1000000);
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR) req = rem;
}

cposix_wall_time cposix_wall_clock(void) {
    struct timespec ts;
    cposix_wall_time out = {0, 0};
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        out.seconds = (int64_t)ts.tv_sec;
        out.microseconds = (int32_t)(ts.tv_nsec / 1000);
    }
    return out;
}

int32_t cposix_gmtime(int64_t unix_seconds, cposix_calendar *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof *out);
    time_t t = (time_t)unix_seconds;
    if ((int64_t)t != unix_seconds) return -EOVERFLOW;  // 32-bit time_t
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) return -EOVERFLOW;
    out->year = (int32_t)tm.tm_year + 1900;
    out->month = (int32_t)tm.tm_mon + 1;
    out->day = (int32_t)tm.tm_mday;
    out->hour = (int32_t)tm.tm_hour;
    out->minute = (int32_t)tm.tm_min;
    out->second = (int32_t)tm.tm_sec;
    out->weekday = (int32_t)tm.tm_wday;
    out->yearday = (int32_t)tm.tm_yday;
    return 0;
}

int32_t cposix_set_nonblocking(int32_t fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -errno;
    if (flags & O_NONBLOCK) return 0;
    if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
    return 0;
}

int32_t cposix_set_nodelay(int32_t fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) return -errno;
    return 0;
}

int32_t cposix_poll(int32_t fd, int32_t want_read, int32_t want_write, int32_t timeout_ms) {
    struct pollfd p;
    p.fd = fd;
    p.events = (short)((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
    p.revents = 0;
    int64_t deadline = timeout_ms > 0 ? cposix_monotonic_ms() + timeout_ms : 0;
    int wait_ms = timeout_ms < 0 ? -1 : timeout_ms;
    for (;;) {
        int rc = poll(&p, 1, wait_ms);
        if (rc < 0) {
            if (errno != EINTR) return -errno;
            if (timeout_ms > 0) {
                int64_t left = deadline - cposix_monotonic_ms();
                wait_ms = left > 0 ? (int)left : 0;
            }
            continue;
        }
        if (rc == 0) return 0;
        if (p.revents & POLLNVAL) return -EBADF;
        int32_t mask = 0;
        if (p.revents & POLLIN) mask |= CPOSIX_POLL_READABLE;
        if (p.revents & POLLOUT) mask |= CPOSIX_POLL_WRITABLE;
        if (p.revents & POLLHUP) mask |= CPOSIX_POLL_HANGUP;
#ifdef POLLRDHUP
        if (p.revents & POLLRDHUP) mask |= CPOSIX_POLL_HANGUP;
#endif
        if (p.revents & POLLERR) mask |= CPOSIX_POLL_ERROR;
        return mask;
    }
}

int32_t cposix_connect_finish(int32_t fd, int32_t timeout_ms) {
    int32_t r = cposix_poll(fd, 0, 1, timeout_ms);
    if (r < 0) return r;
    if (r == 0) return -ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    if (err != 0) return -err;
    // POLLHUP without SO_ERROR should not happen for a fresh connect; be safe.
    if ((r & CPOSIX_POLL_WRITABLE) == 0) return -ECONNREFUSED;
    return 0;
}

/// One connect attempt to one address. Returns the connected descriptor or a negative errno.
static int32_t connect_one(const struct addrinfo *ai, int32_t budget_ms) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -errno;
#else
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) return -errno;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    int32_t nb = cposix_set_nonblocking(fd);
    if (nb < 0) {
        close(fd);
        return nb;
    }
#endif
#ifdef SO_NOSIGPIPE
    {  // platforms without MSG_NOSIGNAL (Apple): suppress SIGPIPE per socket
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    int32_t result = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        // EINTR on a non-blocking connect: the attempt goes on asynchronously, like EINPROGRESS.
        if (errno == EINPROGRESS || errno == EINTR) {
            result = cposix_connect_finish(fd, budget_ms);
        } else {
            result = -errno;
        }
    }
    if (result == 0) result = cposix_set_nodelay(fd);
    if (result < 0) {
        close(fd);
        return result;
    }
    return fd;
}

int32_t cposix_tcp_connect(const char *host, uint16_t port, int32_t timeout_ms, int32_t *gai_error) {
    if (gai_error) *gai_error = 0;
    if (host == NULL || host[0] == '\0') return -EINVAL;

    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV;  // no AI_ADDRCONFIG: it would hide ::1 on IPv4-only hosts

    struct addrinfo *list = NULL;
    int g = getaddrinfo(host, service, &hints, &list);
    if (g != 0) {
        if (gai_error) *gai_error = (int32_t)g;
        return CPOSIX_ERESOLVE;
    }

    int count = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) count++;

    int64_t deadline = timeout_ms >= 0 ? cposix_monotonic_ms() + timeout_ms : 0;
    int32_t result = -ECONNREFUSED;
    int index = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next, index++) {
        int32_t budget = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - cposix_monotonic_ms();
            if (left < 0 || (left == 0 && index > 0)) {
                result = -ETIMEDOUT;
                break;
            }
            // A fair share of the time left, so one black-holed address cannot starve the rest.
            int remaining = count - index;
            int64_t share = left / remaining;
            budget = (int32_t)share;
        }
        result = connect_one(ai, budget);
        if (result >= 0) break;
    }
    freeaddrinfo(list);
    return result;
}

intptr_t cposix_send(int32_t fd, const void *buf, size_t len) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return -(intptr_t)errno;
    return (intptr_t)n;
}

intptr_t cposix_write_all(int32_t fd, const void *buf, size_t len) {
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -(intptr_t)errno;
        }
        done += (size_t)n;
    }
    return (intptr_t)len;
}

intptr_t cposix_recv(int32_t fd, void *buf, size_t len) {
    ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
    if (n < 0) return -(intptr_t)errno;
    return (intptr_t)n;
}

int32_t cposix_close(int32_t fd) {
    if (close(fd) < 0) return -errno;
    return 0;
}
