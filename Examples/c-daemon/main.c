/*
 * A firmware-style daemon in C over the oneM2M C API (include/onem2m.h, libonem2m.a): registers
 * an AE, creates a container and a subscription to it, posts readings, receives the CSE's
 * notification through the callback, deregisters. Exit code 0 only if every step succeeded.
 *
 *   c-daemon [OPTIONS] [mqtt://host:port | mqtts://host:port] [SUFFIX]
 *     --ca FILE                 CA certificate(s) the broker's certificate must chain to (mqtts://)
 *     --cert FILE --key FILE    client certificate and key (mutual TLS)
 *     --psk-identity ID --psk-hex HEX   TLS-PSK credentials (key in hex, as in mosquitto's psk_file)
 *     --insecure-dev-only       tls_insecure = 1: accept ANY broker certificate (development only)
 *     --poa URL                 pointOfAccess to register (default: the broker URL), e.g. the
 *                               plain listener the CSE uses when this daemon connects over mqtts://
 *   c-daemon --arena-size          prints onem2m_arena_size() for the default configuration
 *   c-daemon --strerror CODE       prints onem2m_strerror(CODE)
 *
 * Exit codes: 0 every step succeeded, 1 a step failed, 2 bad arguments or create failed,
 * 3 the connect failed (its result code and text are printed: "connect URL: TEXT (code N)").
 *
 * Built and run by scripts/c-example.sh (host; mqtt://, mqtts:// with a CA and with a PSK, and the
 * TLS failures) and scripts/cross.sh (host, aarch64, armv7; mqtt://).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onem2m.h"

/* The client's only memory: 32 KB, 8-byte aligned. onem2m_arena_size() says what is needed. */
static uint64_t arena[4096];

struct seen {
    int notifications;
    int readings; /* notifications that carried a contentInstance */
};

static int contains(const char *s, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0) return 1;
    return 0;
}

static void on_notify(const char *json, size_t len, void *ctx) {
    struct seen *seen = ctx;
    seen->notifications++;
    if (contains(json, len, "\"m2m:cin\"")) seen->readings++;
    printf("c-daemon: notification %d (%zu bytes): %.*s\n", seen->notifications, len, (int)(len > 160 ? 160 : len), json);
}

/* rsc is read through the pointer, inside: the call that sets it is another argument of the same
 * call, and C leaves the order in which arguments are evaluated open (gcc on x86-64 goes right to
 * left, so a plain `rsc` argument would be read before the request ran). */
static int expect(const char *what, int err, const int *rsc, int want_rsc) {
    printf("c-daemon: %s: %s, rsc %d\n", what, onem2m_strerror(err), *rsc);
    return err == ONEM2M_OK && *rsc == want_rsc;
}

/* "0a1B..." -> bytes; the length, or -1 if not an even number of hex digits or too long. */
static int parse_hex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex);
    if (n == 0 || n % 2 != 0 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n; i += 2) {
        char pair[3] = {hex[i], hex[i + 1], 0};
        char *end;
        unsigned long v = strtoul(pair, &end, 16);
        if (*end != 0 || pair[0] == '+' || pair[0] == '-' || pair[0] == ' ') return -1;
        out[i / 2] = (uint8_t)v;
    }
    return (int)(n / 2);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--arena-size") == 0) {
        onem2m_config cfg;
        onem2m_config_init(&cfg);
        cfg.ae_id = "C";
        printf("%zu\n", onem2m_arena_size(&cfg));
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--strerror") == 0) {
        printf("%s\n", onem2m_strerror(atoi(argv[2])));
        return 0;
    }
    onem2m_config cfg;
    onem2m_config_init(&cfg);
    static uint8_t psk[ONEM2M_MAX_PSK];
    const char *positional[2] = {"mqtt://127.0.0.1:1883", "1"};
    int npos = 0;
    static const char *const with_value[] = {"--ca", "--cert", "--key", "--psk-identity", "--psk-hex", "--poa"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--insecure-dev-only") == 0) {
            cfg.tls_insecure = 1;
            printf("c-daemon: WARNING: tls_insecure: the broker's certificate is NOT verified (development only)\n");
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (npos == 2) {
                fprintf(stderr, "c-daemon: too many arguments\n");
                return 2;
            }
            positional[npos++] = a;
            continue;
        }
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) known |= strcmp(a, with_value[k]) == 0;
        if (!known || i + 1 == argc) {
            fprintf(stderr, "c-daemon: %s %s\n", a, known ? "needs a value" : "is not an option");
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--ca") == 0) cfg.tls_ca_file = v;
        else if (strcmp(a, "--cert") == 0) cfg.tls_cert_file = v;
        else if (strcmp(a, "--key") == 0) cfg.tls_key_file = v;
        else if (strcmp(a, "--psk-identity") == 0) cfg.tls_psk_identity = v;
        else if (strcmp(a, "--poa") == 0) cfg.point_of_access = v;
        else { /* --psk-hex */
            int n = parse_hex(v, psk, sizeof psk);
            if (n < 0) {
                fprintf(stderr, "c-daemon: --psk-hex wants 2 to %d hex digits\n", 2 * ONEM2M_MAX_PSK);
                return 2;
            }
            cfg.tls_psk_key = psk;
            cfg.tls_psk_key_len = (size_t)n;
        }
    }
    const char *url = positional[0];
    const char *suffix = positional[1];
    char ae_id[64], name[64], ae_path[96], cnt_path[128];
    snprintf(ae_id, sizeof ae_id, "Cdaemon%s", suffix);
    snprintf(name, sizeof name, "daemon-%s", suffix);
    snprintf(ae_path, sizeof ae_path, "cse-in/%s", name);
    snprintf(cnt_path, sizeof cnt_path, "cse-in/%s/readings", name);

    cfg.ae_id = ae_id;
    size_t need = onem2m_arena_size(&cfg);
    printf("c-daemon: arena %zu bytes needed, %zu available\n", need, sizeof arena);

    onem2m_client *c = NULL;
    int err = onem2m_create(&cfg, arena, sizeof arena, &c);
    if (err != ONEM2M_OK) {
        printf("c-daemon: create: %s\n", onem2m_strerror(err));
        return 2;
    }
    /* Error paths first: a tiny arena and an unsupported URL are refused with typed codes. */
    onem2m_client *bad = NULL;
    int tiny = onem2m_create(&cfg, arena, 64, &bad);
    printf("c-daemon: create with a 64-byte arena: %s\n", onem2m_strerror(tiny));
    int ok = tiny == ONEM2M_EARENA;
    int badurl = onem2m_connect(c, "http://127.0.0.1:1", 1000);
    printf("c-daemon: connect http://...: %s\n", onem2m_strerror(badurl));
    ok = ok && badurl == ONEM2M_EURL;

    struct seen seen = {0, 0};
    onem2m_set_notify_callback(c, on_notify, &seen);
    err = onem2m_connect(c, url, 10000);
    printf("c-daemon: connect %s: %s (code %d)\n", url, onem2m_strerror(err), err);
    if (err != ONEM2M_OK) {
        char detail[512];
        if (onem2m_tls_detail(c, detail, sizeof detail) > 0) printf("c-daemon: TLS detail: %s\n", detail);
        onem2m_destroy(c);
        return 3;
    }

    int rsc = 0;
    ok = ok && expect("register AE", onem2m_register_ae(c, "Ndaemon", name, 0, &rsc), &rsc, 2001);
    ok = ok && expect("create container", onem2m_create_container(c, ae_path, "readings", 0, &rsc), &rsc, 2001);
    err = onem2m_create_container(c, ae_path, "readings", 0, &rsc);
    printf("c-daemon: create the container again: %s, rsc %d\n", onem2m_strerror(err), rsc);
    ok = ok && err == ONEM2M_EREJECTED && rsc == 4105;
    ok = ok && expect("create subscription", onem2m_create_subscription(c, cnt_path, "watch", 0, &rsc), &rsc, 2001);
    const char *reading = "{\"temperature\": 21.5}";
    ok = ok && expect("create contentInstance", onem2m_create_content_instance(c, cnt_path, reading, strlen(reading), 0, &rsc), &rsc, 2001);

    /* The CSE notifies the new reading; wait up to 10 s for it. */
    for (int i = 0; i < 100 && seen.readings == 0; i++) {
        int n = onem2m_poll(c, 100);
        if (n < 0) {
            printf("c-daemon: poll: %s\n", onem2m_strerror(n));
            break;
        }
    }
    printf("c-daemon: %d notification(s), %d with a reading\n", seen.notifications, seen.readings);
    ok = ok && seen.readings >= 1;

    ok = ok && expect("deregister", onem2m_deregister(c, 0, &rsc), &rsc, 2002);
    onem2m_destroy(c);
    printf("c-daemon: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
