/*
 * A firmware-style daemon in C over the oneM2M C API (include/onem2m.h, libonem2m.a): registers
 * an AE, creates a container and a subscription to it, posts readings, receives the CSE's
 * notification through the callback, deregisters. Exit code 0 only if every step succeeded.
 *
 *   c-daemon [mqtt://host:port] [SUFFIX]
 *   c-daemon --arena-size          prints onem2m_arena_size() for the default configuration
 *
 * Built and run by scripts/c-example.sh (host) and scripts/cross.sh (host, aarch64, armv7).
 */
#include <stdio.h>
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

static int expect(const char *what, int err, int rsc, int want_rsc) {
    printf("c-daemon: %s: %s, rsc %d\n", what, onem2m_strerror(err), rsc);
    return err == ONEM2M_OK && rsc == want_rsc;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--arena-size") == 0) {
        onem2m_config cfg;
        onem2m_config_init(&cfg);
        cfg.ae_id = "C";
        printf("%zu\n", onem2m_arena_size(&cfg));
        return 0;
    }
    const char *url = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";
    const char *suffix = argc > 2 ? argv[2] : "1";
    char ae_id[64], name[64], ae_path[96], cnt_path[128];
    snprintf(ae_id, sizeof ae_id, "Cdaemon%s", suffix);
    snprintf(name, sizeof name, "daemon-%s", suffix);
    snprintf(ae_path, sizeof ae_path, "cse-in/%s", name);
    snprintf(cnt_path, sizeof cnt_path, "cse-in/%s/readings", name);

    onem2m_config cfg;
    onem2m_config_init(&cfg);
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
    printf("c-daemon: connect %s: %s\n", url, onem2m_strerror(err));
    if (err != ONEM2M_OK) return 1;

    int rsc = 0;
    ok = ok && expect("register AE", onem2m_register_ae(c, "Ndaemon", name, 0, &rsc), rsc, 2001);
    ok = ok && expect("create container", onem2m_create_container(c, ae_path, "readings", 0, &rsc), rsc, 2001);
    err = onem2m_create_container(c, ae_path, "readings", 0, &rsc);
    printf("c-daemon: create the container again: %s, rsc %d\n", onem2m_strerror(err), rsc);
    ok = ok && err == ONEM2M_EREJECTED && rsc == 4105;
    ok = ok && expect("create subscription", onem2m_create_subscription(c, cnt_path, "watch", 0, &rsc), rsc, 2001);
    const char *reading = "{\"temperature\": 21.5}";
    ok = ok && expect("create contentInstance", onem2m_create_content_instance(c, cnt_path, reading, strlen(reading), 0, &rsc), rsc, 2001);

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

    ok = ok && expect("deregister", onem2m_deregister(c, 0, &rsc), rsc, 2002);
    onem2m_destroy(c);
    printf("c-daemon: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
