/*
 * A fast stand-in for the CSE in benchmarks: answers every oneM2M request it sees with the
 * same 2001 (CREATED) response ACME sends for a contentInstance, carrying the request's rqi.
 *
 *   responder --port P [--host 127.0.0.1] [--cse-id id-in] [--sub-qos 0|1] [--stats FILE]
 *
 * Subscribes to /oneM2M/req/+/<cse-id>/# and answers on /oneM2M/resp/<originator>/<cse-id>/<suffix>
 * (the originator level copied verbatim from the request topic, as ACME does). The rqi is found
 * with a minimal scan ("rqi", optional spaces, ':', '"', bytes up to the next '"'); the body
 * is otherwise fixed. One thread, TCP_NODELAY. Answers are published with QoS 1; the
 * subscription is QoS 0 by default, as ACME subscribes (so requests reach it at QoS 0).
 *
 * On SIGTERM/SIGINT it disconnects and writes "messages user_us sys_us" (getrusage) to
 * --stats (or stderr), so the harness can show what the responder cost per message.
 */
#define _GNU_SOURCE
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static const char *cse = "id-in";
static int qos = 0; /* subscription QoS; answers are always QoS 1 */
static unsigned long long messages, unanswered;
static char filter[256];
static int connected;

static void on_signal(int s) { (void)s; stop = 1; }

/* The body around the two variable parts (to = the originator, rqi). */
static const char part1[] = "{\"fr\": \"/";
static const char part2[] = "\", \"to\": \"";
static const char part3[] = "\", \"ot\": \"20261121T230106,648280\", \"rsc\": 2001, \"rqi\": \"";
static const char part4[] =
    "\", \"rvi\": \"3\", \"drt\": 1, \"pc\": {\"m2m:cin\": {\"cnf\": \"text/plain:0\", \"con\": \"21.5\", "
    "\"cs\": 4, \"pi\": \"cntFLkq3XcuQk\", \"ri\": \"cinqhqTC9iYaQ\", \"rn\": \"cin_UboiNgS1TM\", \"ty\": 4, "
    "\"ct\": \"20261121T230106,648280\", \"lt\": \"20261121T230106,648280\", "
    "\"et\": \"20311120T230105,175123\", \"st\": 3}}}";

#define PUT(lit) do { memcpy(p, lit, sizeof(lit) - 1); p += sizeof(lit) - 1; } while (0)
#define PUTN(s, n) do { memcpy(p, s, n); p += n; } while (0)

/* The rqi value in a JSON payload, or NULL. */
static const char *find_rqi(const char *s, size_t n, size_t *len) {
    const char *end = s + n;
    for (const char *q = s; q + 5 <= end; q++) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q || q + 5 > end) return NULL;
        if (q[1] != 'r' || q[2] != 'q' || q[3] != 'i' || q[4] != '"') continue;
        const char *v = q + 5;
        while (v < end && (*v == ' ' || *v == ':' || *v == '\t' || *v == '\n' || *v == '\r')) v++;
        if (v >= end || *v != '"') return NULL;
        v++;
        const char *e = memchr(v, '"', (size_t)(end - v));
        if (!e || e - v > 128) return NULL;
        *len = (size_t)(e - v);
        return v;
    }
    return NULL;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
    (void)ud;
    messages++;
    /* /oneM2M/req/<orig>/<cse>/<suffix> */
    const char *t = msg->topic;
    static const char prefix[] = "/oneM2M/req/";
    if (strncmp(t, prefix, sizeof(prefix) - 1) != 0) { unanswered++; return; }
    const char *orig = t + sizeof(prefix) - 1;
    const char *slash = strchr(orig, '/');
    if (!slash) { unanswered++; return; }
    size_t olen = (size_t)(slash - orig);
    const char *rest = slash; /* "/<cse>/<suffix>" */
    size_t rlen = strlen(rest);

    char topic[512];
    if (olen + rlen + 16 > sizeof(topic)) { unanswered++; return; }
    char *p = topic;
    PUT("/oneM2M/resp/");
    PUTN(orig, olen);
    PUTN(rest, rlen);
    *p = 0;

    size_t qlen = 0;
    const char *rqi = find_rqi(msg->payload, (size_t)msg->payloadlen, &qlen);
    if (!rqi) { unanswered++; return; }

    char body[1024];
    size_t clen = strlen(cse);
    if (clen + olen + qlen + sizeof(part4) + 128 > sizeof(body)) { unanswered++; return; }
    p = body;
    PUT(part1);
    PUTN(cse, clen);
    PUT(part2);
    PUTN(orig, olen);
    PUT(part3);
    PUTN(rqi, qlen);
    PUT(part4);
    if (mosquitto_publish(m, NULL, topic, (int)(p - body), body, 1, false) != MOSQ_ERR_SUCCESS) unanswered++;
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
    (void)ud;
    if (rc != 0) { fprintf(stderr, "responder: connection refused (%d)\n", rc); stop = 1; return; }
    mosquitto_subscribe(m, NULL, filter, qos);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted) {
    (void)m; (void)ud; (void)mid;
    if (n < 1 || granted[0] > 2) { fprintf(stderr, "responder: subscription refused\n"); stop = 1; return; }
    connected = 1;
    fprintf(stderr, "responder: ready (%s)\n", filter);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *stats = NULL;
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cse-id")) cse = argv[i + 1];
        else if (!strcmp(argv[i], "--sub-qos")) qos = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stats")) stats = argv[i + 1];
        else { fprintf(stderr, "responder: unknown option %s\n", argv[i]); return 2; }
    }
    if (port <= 0 || qos < 0 || qos > 1) {
        fprintf(stderr, "usage: responder --port P [--host H] [--cse-id id-in] [--sub-qos 0|1] [--stats FILE]\n");
        return 2;
    }
    if (cse[0] == '/') cse++;
    snprintf(filter, sizeof(filter), "/oneM2M/req/+/%s/#", cse);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mosquitto_lib_init();
    char id[64];
    snprintf(id, sizeof(id), "C::bench-responder-%d", (int)getpid());
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    if (!m) { perror("responder: mosquitto_new"); return 1; }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(m, 0); /* never hold answers back */
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    int rc = mosquitto_connect(m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "responder: connect: %s\n", mosquitto_strerror(rc)); return 1; }
    while (!stop) {
        rc = mosquitto_loop(m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS && !stop) {
            fprintf(stderr, "responder: %s\n", mosquitto_strerror(rc));
            break;
        }
    }
    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long user = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
    long long sys = (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    FILE *f = stats ? fopen(stats, "w") : stderr;
    if (f) {
        fprintf(f, "%llu %lld %lld %llu\n", messages, user, sys, unanswered);
        if (f != stderr) fclose(f);
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc == MOSQ_ERR_SUCCESS || stop ? 0 : 1;
}
