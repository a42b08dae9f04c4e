/*
 * The baseline AE for `make bench`: what a C device on libmosquitto would do to create N
 * contentInstances over oneM2M/MQTT (TS-0010) with W requests outstanding. It does the same
 * as `onem2m bench`:
 *
 *   - client id A::<origin>, Clean Session 0, MQTT 3.1.1, TCP_NODELAY on;
 *   - subscribes (QoS 1) to /oneM2M/req/+/<origin>/# and /oneM2M/resp/<origin>/<cse>/#;
 *   - publishes (QoS 1) on /oneM2M/req/<origin>/<cse>/json the same primitive, byte for byte in
 *     shape and size: {"op":1,"to":PATH,"fr":ORIGIN,"rqi":"<8 hex>-<n>","rvi":"3","ty":4,
 *     "pc":{"m2m:cin":{"cnf":"text/plain:0","con":"21.5"}}};
 *   - keeps W requests outstanding, matches responses by rqi, measures each latency from
 *     publish to response, and the throughput from the first publish to the last response.
 *
 * The response is read with a minimal scan for "rsc" and "rqi" (no JSON validation) -- less
 * work than ours, which validates the whole response, so the comparison favours the baseline.
 *
 *   baseline --port P --to PATH [--host 127.0.0.1] [--cse-id id-in] [--origin CXXX]
 *            [--requests N] [--in-flight W] [--timeout SECONDS] [--json]
 *
 * Output: the same text or JSON object as `onem2m bench`. With bench/mallocount.c preloaded,
 * the JSON also carries "allocsInLoop" (heap allocations between the first publish and the
 * last response).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <mosquitto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *cse = "id-in", *origin = NULL, *to = NULL;
static char salt[9];
static int n = 1000, w = 1;
static int sent, completed, outstanding, failures, timeouts, samples;
static int ready, failed;
static uint32_t *slot_number;
static uint64_t *slot_start;
static char *slot_busy;
static uint64_t *latencies;
static char resp_prefix[256];
static size_t resp_prefix_len;

/* Integer value after "key": in a JSON text (minimal scan), or -1. */
static long scan_int(const char *s, size_t len, const char *key, size_t klen) {
    const char *end = s + len;
    for (const char *q = s; q < end; q++) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q || q + klen + 2 > end) return -1;
        if (memcmp(q + 1, key, klen) != 0 || q[klen + 1] != '"') continue;
        const char *v = q + klen + 2;
        while (v < end && (*v == ' ' || *v == ':')) v++;
        if (v < end && *v == '"') v++;
        long x = 0;
        int digits = 0;
        while (v < end && *v >= '0' && *v <= '9') { x = x * 10 + (*v - '0'); v++; digits++; }
        return digits ? x : -1;
    }
    return -1;
}

/* The request number in our rqi ("<salt>-<n>"), or -1. */
static long scan_rqi(const char *s, size_t len) {
    const char *end = s + len;
    for (const char *q = s; q < end; q++) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q || q + 5 > end) return -1;
        if (q[1] != 'r' || q[2] != 'q' || q[3] != 'i' || q[4] != '"') continue;
        const char *v = q + 5;
        while (v < end && (*v == ' ' || *v == ':')) v++;
        if (v + 10 > end || *v != '"') return -1;
        v++;
        if (memcmp(v, salt, 8) != 0 || v[8] != '-') return -1;
        v += 9;
        long x = 0;
        int digits = 0;
        while (v < end && *v >= '0' && *v <= '9') { x = x * 10 + (*v - '0'); v++; digits++; }
        return digits && v < end && *v == '"' ? x : -1;
    }
    return -1;
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
    (void)ud;
    if (rc != 0) { fprintf(stderr, "baseline: connection refused (%d)\n", rc); failed = 1; return; }
    char f1[256], f2[256];
    snprintf(f1, sizeof(f1), "/oneM2M/req/+/%s/#", origin);
    snprintf(f2, sizeof(f2), "/oneM2M/resp/%s/%s/#", origin, cse);
    char *filters[2] = {f1, f2};
    if (mosquitto_subscribe_multiple(m, NULL, 2, filters, 1, 0, NULL) != MOSQ_ERR_SUCCESS) failed = 1;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int count, const int *granted) {
    (void)m; (void)ud; (void)mid;
    for (int i = 0; i < count; i++) if (granted[i] > 2) failed = 1;
    ready = 1;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
    (void)m; (void)ud;
    if (strncmp(msg->topic, resp_prefix, resp_prefix_len) != 0) return; /* not a response to us */
    const char *p = msg->payload;
    size_t len = (size_t)msg->payloadlen;
    long number = scan_rqi(p, len);
    if (number < 0) return;
    int s = 0;
    while (s < w && !(slot_busy[s] && slot_number[s] == (uint32_t)number)) s++;
    if (s == w) return; /* late or unknown */
    long rsc = scan_int(p, len, "rsc", 3);
    slot_busy[s] = 0;
    if (rsc < 2000 || rsc > 2999) failures++;
    latencies[samples++] = now_ns() - slot_start[s];
    outstanding--;
    completed++;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double p) {
    if (samples == 0) return 0;
    long rank = (long)(p * samples + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > samples) rank = samples;
    return (double)latencies[rank - 1] / 1e6;
}

typedef uint64_t (*counter_fn)(void);

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0, json = 0;
    double timeout = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!v) { fprintf(stderr, "baseline: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--cse-id")) cse = v;
        else if (!strcmp(a, "--origin")) origin = v;
        else if (!strcmp(a, "--to")) to = v;
        else if (!strcmp(a, "--requests")) n = atoi(v);
        else if (!strcmp(a, "--in-flight")) w = atoi(v);
        else if (!strcmp(a, "--timeout")) timeout = atof(v);
        else { fprintf(stderr, "baseline: unknown option %s\n", a); return 2; }
        i++;
    }
    if (port <= 0 || !to || n < 1 || w < 1 || w > 1024 || timeout <= 0) {
        fprintf(stderr, "usage: baseline --port P --to PATH [--host H] [--cse-id id-in] [--origin CXXX] "
                        "[--requests N] [--in-flight W] [--timeout S] [--json]\n");
        return 2;
    }
    if (cse[0] == '/') cse++;
    char generated[16];
    uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32);
    if (!origin) {
        snprintf(generated, sizeof(generated), "Cb%08x", (unsigned)(seed & 0xffffffffu));
        origin = generated;
    }
    static const char hexd[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) salt[i] = hexd[(seed >> (4 * i + 3)) & 0xf];
    salt[8] = 0;

    slot_number = calloc((size_t)w, sizeof(*slot_number));
    slot_start = calloc((size_t)w, sizeof(*slot_start));
    slot_busy = calloc((size_t)w, 1);
    latencies = calloc((size_t)n, sizeof(*latencies));
    char request_topic[256], client_id[128];
    snprintf(request_topic, sizeof(request_topic), "/oneM2M/req/%s/%s/json", origin, cse);
    resp_prefix_len = (size_t)snprintf(resp_prefix, sizeof(resp_prefix), "/oneM2M/resp/%s/%s/", origin, cse);
    snprintf(client_id, sizeof(client_id), "A::%s", origin);

    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(client_id, false, NULL);
    if (!m) { perror("baseline: mosquitto_new"); return 3; }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(m, (unsigned)w + 8); /* as `onem2m bench`: inflight W + 8 */
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    int rc = mosquitto_connect(m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "baseline: connect: %s\n", mosquitto_strerror(rc)); return 3; }
    uint64_t limit = now_ns() + (uint64_t)(timeout * 1e9);
    while (!ready && !failed && now_ns() < limit) {
        rc = mosquitto_loop(m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "baseline: %s\n", mosquitto_strerror(rc)); return 3; }
    }
    if (!ready || failed) { fprintf(stderr, "baseline: no SUBACK within %g s\n", timeout); return 3; }

    counter_fn allocs = (counter_fn)dlsym(RTLD_DEFAULT, "mc_allocs");
    uint64_t allocs0 = allocs ? allocs() : 0;
    uint64_t timeout_ns = (uint64_t)(timeout * 1e9);
    char payload[1024];
    uint64_t began = now_ns();
    while (completed < n) {
        while (sent < n && outstanding < w) {
            uint32_t number = (uint32_t)sent + 1;
            int len = snprintf(payload, sizeof(payload),
                "{\"op\":1,\"to\":\"%s\",\"fr\":\"%s\",\"rqi\":\"%s-%u\",\"rvi\":\"3\",\"ty\":4,"
                "\"pc\":{\"m2m:cin\":{\"cnf\":\"text/plain:0\",\"con\":\"21.5\"}}}",
                to, origin, salt, number);
            rc = mosquitto_publish(m, NULL, request_topic, len, payload, 1, false);
            if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "baseline: publish: %s\n", mosquitto_strerror(rc)); return 3; }
            int s = 0;
            while (slot_busy[s]) s++;
            slot_busy[s] = 1;
            slot_number[s] = number;
            slot_start[s] = now_ns();
            sent++;
            outstanding++;
        }
        rc = mosquitto_loop(m, 1000, 1);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "baseline: %s after %d responses\n", mosquitto_strerror(rc), completed); return 3; }
        uint64_t t = now_ns();
        for (int s = 0; s < w; s++) {
            if (slot_busy[s] && t - slot_start[s] > timeout_ns) {
                slot_busy[s] = 0;
                timeouts++;
                outstanding--;
                completed++;
            }
        }
    }
    uint64_t ended = now_ns();
    uint64_t allocs_in_loop = allocs ? allocs() - allocs0 : 0;
    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();

    qsort(latencies, (size_t)samples, sizeof(*latencies), cmp_u64);
    double seconds = (double)(ended - began) / 1e9;
    double rate = seconds > 0 ? n / seconds : 0;
    if (json) {
        printf("{\"requests\":%d,\"inFlight\":%d,\"seconds\":%.3f,\"requestsPerSecond\":%.1f,"
               "\"latencyP50Ms\":%.3f,\"latencyP99Ms\":%.3f,\"non2xxx\":%d,\"timeouts\":%d",
               n, w, seconds, rate, percentile(0.50), percentile(0.99), failures, timeouts);
        if (allocs) printf(",\"allocsInLoop\":%llu", (unsigned long long)allocs_in_loop);
        printf("}\n");
    } else {
        printf("%d requests, %d in flight: %.1f req/s\n", n, w, rate);
        printf("latency p50 %.2f ms, p99 %.2f ms\n", percentile(0.50), percentile(0.99));
        printf("%d non-2xxx responses, %d timeouts\n", failures, timeouts);
    }
    free(slot_number); free(slot_start); free(slot_busy); free(latencies);
    if (timeouts) return 3;
    if (failures) return 1;
    return 0;
}
