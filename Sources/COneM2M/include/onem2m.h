/*
 * onem2m.h: a oneM2M AE over MQTT (TS-0010) for C firmware daemons.
 *
 * The implementation is the Swift SDK's core (MQTTPacket, MQTTSession, MQTTClient, OneM2M) and its
 * TLS transport (mbedTLS) built in Embedded Swift: link libonem2m.a (scripts/cross.sh builds it per
 * target) with libc and mbedTLS (-lmbedtls -lmbedx509 -lmbedcrypto, in that order; static or
 * shared; tested with 2.28). A daemon that only uses mqtt:// links them too.
 * No Swift runtime, no Foundation.
 *
 * Memory: the caller gives one arena (onem2m_arena_size() bytes, 8-byte aligned, e.g. a static
 * uint64_t array). It holds the client, the MQTT transmit/receive buffers, the QoS 1 replay store
 * and the topic/identifier scratch. Requests, polling and notifications allocate nothing; create
 * and connect make a few small heap allocations (client ID, host name, SUBSCRIBE filters, copies
 * of point_of_access and the TLS settings). An mqtts:// connection also takes mbedTLS's context
 * from the heap when it connects: about 80 KB with Debian's default mbedTLS build (37 KB of it
 * HAVEGE entropy state, 33 KB record buffers) plus 1-10 KB during the handshake; nothing more
 * once connected. docs/security.md section 5 shows how a trimmed mbedTLS build bounds it.
 *
 * Threads: one client, one thread. Every call blocks for at most its timeout.
 *
 *   static uint64_t arena[2048];                         // 16 KB >= onem2m_arena_size(&cfg)
 *   onem2m_config cfg; onem2m_config_init(&cfg); cfg.ae_id = "Csensor1";
 *   cfg.tls_ca_file = "/etc/ssl/broker-ca.pem";          // only for mqtts://
 *   onem2m_client *c; int rsc;
 *   onem2m_create(&cfg, arena, sizeof arena, &c);
 *   onem2m_set_notify_callback(c, on_notify, NULL);
 *   onem2m_connect(c, "mqtts://broker.example:8883", 5000);   // or "mqtt://127.0.0.1:1883"
 *   onem2m_register_ae(c, "Nsensor", "sensor1", 0, &rsc);
 *   onem2m_create_container(c, "cse-in/sensor1", "temperature", 0, &rsc);
 *   onem2m_create_content_instance(c, "cse-in/sensor1/temperature", "21.5", 4, 0, &rsc);
 *   while (running) onem2m_poll(c, 1000);                // notifications arrive in on_notify
 *   onem2m_deregister(c, 0, &rsc);
 *   onem2m_destroy(c);
 *
 * TLS (mqtts://): the broker is always authenticated. Give tls_ca_file (its certificate must
 * chain to that CA and name the URL's host: DNS name or IP address subjectAltName), or a
 * pre-shared key (tls_psk_identity + tls_psk_key), or both. Without either, onem2m_connect
 * fails with ONEM2M_ETLSNOAUTH instead of connecting unauthenticated. TLS 1.2 at least.
 * Handshake failures have their own codes (ONEM2M_ETLS*); onem2m_tls_detail() gives mbedTLS's
 * own description. The tls_* fields are ignored for mqtt://.
 */
#ifndef ONEM2M_H
#define ONEM2M_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes: 0 is success, every failure is negative. onem2m_strerror() describes them. */
typedef enum onem2m_error {
    ONEM2M_OK = 0,
    ONEM2M_EINVAL = -1,          /* invalid argument: NULL, empty, too long, not UTF-8 */
    ONEM2M_EARENA = -2,          /* arena too small or not 8-byte aligned (see onem2m_arena_size) */
    ONEM2M_EURL = -3,            /* URL is not mqtt://host[:port] or mqtts://host[:port] */
    ONEM2M_ERESOLVE = -4,        /* the host name did not resolve */
    ONEM2M_ECONNECT = -5,        /* TCP connection refused or host unreachable */
    ONEM2M_ETIMEDOUT = -6,       /* no answer within the timeout */
    ONEM2M_ECLOSED = -7,         /* the connection was lost (reconnection is automatic) */
    ONEM2M_ENOTCONN = -8,        /* not connected: call onem2m_connect first */
    ONEM2M_EREFUSED = -9,        /* the broker refused the MQTT connection (CONNACK) */
    ONEM2M_EPROTOCOL = -10,      /* the broker broke the MQTT protocol */
    ONEM2M_EBUSY = -11,          /* buffers or in-flight table full: onem2m_poll, then retry */
    ONEM2M_ETOOBIG = -12,        /* the request does not fit the transmit buffer or store */
    ONEM2M_EREJECTED = -13,      /* the CSE answered with an error status (see *rsc) */
    ONEM2M_EBADRESPONSE = -14,   /* the CSE's response could not be decoded */
    ONEM2M_ESTATE = -15,         /* not valid now (already connected, not registered, ...) */
    ONEM2M_EIO = -16,            /* other system error */
    /* TLS (mqtts://), reported by onem2m_connect (and onem2m_deregister, which reconnects): */
    ONEM2M_ETLSNOAUTH = -17,     /* mqtts:// without tls_ca_file or a PSK: nothing to authenticate the broker with */
    ONEM2M_ETLSCONFIG = -18,     /* a CA, certificate, key or PSK could not be loaded, or they do not fit
                                  * together (certificate without key, PSK too long) */
    ONEM2M_ETLSUNTRUSTED = -19,  /* the broker's certificate does not chain to tls_ca_file (wrong CA,
                                  * self-signed, incomplete chain) or was rejected (revoked, key usage, weak
                                  * signature) */
    ONEM2M_ETLSEXPIRED = -20,    /* the broker's certificate has expired or is not valid yet (check the clock) */
    ONEM2M_ETLSHOSTNAME = -21,   /* the broker's certificate does not name the URL's host */
    ONEM2M_ETLSPSK = -22,        /* the broker rejected the pre-shared key (wrong key or unknown identity) */
    ONEM2M_ETLSCLIENTCERT = -23, /* the broker required a client certificate, or rejected the one sent */
    ONEM2M_ETLSHANDSHAKE = -24   /* another TLS handshake failure (no common version or cipher suite, alert,
                                  * the broker closed the connection) */
} onem2m_error;

/* A client living inside the caller's arena. */
typedef struct onem2m_client onem2m_client;

/* Called for every NOTIFY addressed to this AE, including subscription verification requests
 * (`vrq`), which are answered 2000 automatically. `json` is the primitive's `pc`, e.g.
 * {"m2m:sgn":{"nev":{"net":3,"rep":{"m2m:cin":{...}}},"sur":"..."}}; it is `len` bytes long,
 * NOT NUL-terminated, and valid only during the call. */
typedef void (*onem2m_notify_fn)(const char *json, size_t len, void *ctx);

typedef struct onem2m_config {
    const char *ae_id;           /* this AE's AE-ID (originator), e.g. "Csensor1"; required */
    const char *cse_id;          /* Registrar CSE-ID; NULL = "id-in" */
    const char *cse_name;        /* CSE resource name (target of registration); NULL = "cse-in" */
    uint32_t request_timeout_ms; /* used when a call passes timeout 0; default 10000 */
    uint16_t keep_alive_s;       /* MQTT keep-alive; default 60 */
    uint16_t inflight;           /* unacknowledged QoS 1 publications; default 8 */
    uint32_t tx_bytes;           /* MQTT transmit buffer (largest request); default 2048 */
    uint32_t rx_bytes;           /* MQTT receive buffer (largest response/notification); default 2048 */
    uint32_t store_bytes;        /* replay store for unacknowledged requests; default 4096 */

    /* Fields below were added after the first release (append-only: existing fields keep their
     * offsets; code compiled against an older onem2m.h must be rebuilt, the struct grew).
     * onem2m_create copies every string and the PSK; all default to NULL / 0. */

    /* pointOfAccess registered by onem2m_register_ae; NULL = the URL given to onem2m_connect.
     * Set it when the CSE reaches the broker under another address than this device, e.g. the
     * CSE on a plain internal listener ("mqtt://10.0.0.5:1883") while the device uses mqtts://. */
    const char *point_of_access;

    /* TLS, for mqtts:// only (see the top of this file). */
    const char *tls_ca_file;      /* PEM (one or more CAs) or DER file the broker's certificate must chain to */
    const char *tls_cert_file;    /* client certificate (chain), PEM or DER, for mutual TLS; needs tls_key_file */
    const char *tls_key_file;     /* its private key, PEM or DER, unencrypted */
    const char *tls_psk_identity; /* TLS-PSK identity (NUL-terminated, as in the broker's psk_file) */
    const uint8_t *tls_psk_key;   /* the pre-shared key: tls_psk_key_len raw bytes (not hex); needs the identity */
    size_t tls_psk_key_len;       /* 1 .. ONEM2M_MAX_PSK bytes */
    /* !!! DEVELOPMENT ONLY. Non-zero: accept ANY broker certificate (no chain, expiry or host
     * name check), so anyone on the path can impersonate the broker and read or change every
     * request. Never set it in a product; give tls_ca_file instead. Default 0. With it set,
     * mqtts:// works without a CA (the connection is encrypted but not authenticated). */
    int tls_insecure;
} onem2m_config;

/* Longest ae_id, cse_id and cse_name accepted (bytes, without the NUL). */
#define ONEM2M_MAX_ID 63
/* Longest point_of_access, tls_* path and tls_psk_identity accepted (bytes, without the NUL). */
#define ONEM2M_MAX_TLS_STRING 1023
/* Longest pre-shared key accepted (bytes); mbedTLS's own limit (MBEDTLS_PSK_MAX_LEN, 32 by default)
 * applies at connect (ONEM2M_ETLSCONFIG). */
#define ONEM2M_MAX_PSK 64

/* Fills `cfg` with the defaults (all strings NULL; TLS verification on, tls_insecure 0). */
void onem2m_config_init(onem2m_config *cfg);

/* Bytes of arena a client with `cfg` needs (0 if `cfg` is invalid). */
size_t onem2m_arena_size(const onem2m_config *cfg);

/* Creates a client inside `arena` (arena_len >= onem2m_arena_size(cfg), 8-byte aligned). The
 * strings in `cfg` and the PSK are copied. On success *out is the client (it points into the
 * arena). ONEM2M_EINVAL for an empty or too long string, a PSK key without identity (or the
 * reverse), or a tls_psk_key_len of 0 or above ONEM2M_MAX_PSK. Files are read by onem2m_connect. */
int onem2m_create(const onem2m_config *cfg, void *arena, size_t arena_len, onem2m_client **out);

/* Sets (or, with NULL, clears) the notification callback. */
int onem2m_set_notify_callback(onem2m_client *c, onem2m_notify_fn fn, void *ctx);

/* Connects to the broker at `url` (mqtt://host[:port] over TCP, port 1883 by default, or
 * mqtts://host[:port] over TLS, port 8883 by default; host: IPv4, IPv6 in brackets or a DNS name)
 * with client ID "A::<ae_id>" and subscribes to the AE's request and response topics (TS-0010
 * 6.3, 6.4.5). Lost connections are re-established by onem2m_poll and the requests calls, with
 * back-off (mqtts:// reconnects with a full, verified handshake); unacknowledged requests are
 * replayed. mqtts:// loads the tls_* files here and fails with ONEM2M_ETLS* (see onem2m_error)
 * when the broker cannot be authenticated; the timeout covers TCP, TLS handshake and CONNACK. */
int onem2m_connect(onem2m_client *c, const char *url, uint32_t timeout_ms);

/* The blocking requests below send one request and wait up to timeout_ms (0: the configured
 * request timeout) for its response, delivering notifications meanwhile. They return ONEM2M_OK
 * when the CSE answered with a success status, ONEM2M_EREJECTED when it answered with an error
 * status, or another error when no response came. *rsc (may be NULL) receives the response
 * status code (e.g. 2001 created, 4105 conflict), or 0 when there was no response. */

/* CREATE <AE> named `ae_name` with App-ID `app_id` (starting with 'N' or 'R'), requestReachability
 * true and the broker URL as pointOfAccess, under cse_name. */
int onem2m_register_ae(onem2m_client *c, const char *app_id, const char *ae_name, uint32_t timeout_ms, int *rsc);

/* CREATE <container> `name` under `parent` (e.g. "cse-in/sensor1"). */
int onem2m_create_container(onem2m_client *c, const char *parent, const char *name, uint32_t timeout_ms, int *rsc);

/* CREATE <contentInstance> with con = the `content_len` bytes of `content` (UTF-8 text, escaped
 * as needed) and cnf "text/plain:0" in `container` (e.g. "cse-in/sensor1/temperature"). */
int onem2m_create_content_instance(onem2m_client *c, const char *container, const char *content, size_t content_len,
                                   uint32_t timeout_ms, int *rsc);

/* CREATE <subscription> `name` under `parent` notifying this AE (nu = ae_id) when a child is
 * created (net 3). The CSE's verification request arrives, and is answered, during the call. */
int onem2m_create_subscription(onem2m_client *c, const char *parent, const char *name, uint32_t timeout_ms, int *rsc);

/* Waits up to timeout_ms for traffic: answers and delivers notifications, keeps the connection
 * alive, reconnects after a loss. Returns the number of notifications delivered (>= 0) or an
 * error (ONEM2M_ENOTCONN when never connected). */
int onem2m_poll(onem2m_client *c, uint32_t timeout_ms);

/* DELETE the AE (to = ae_id), then the TS-0010 6.3 clean-up: disconnect, reconnect with
 * Clean Session 1, disconnect. The client stays usable (onem2m_connect again). */
int onem2m_deregister(onem2m_client *c, uint32_t timeout_ms, int *rsc);

/* Closes the connection (without deregistering) and ends the client. The arena may be reused. */
void onem2m_destroy(onem2m_client *c);

/* A fixed English description of a result code (never NULL). */
const char *onem2m_strerror(int code);

/* After an ONEM2M_ETLS* result: mbedTLS's description of the failure (mbedtls_strerror) and, when
 * a certificate was checked, one line per verification problem (e.g. "! The certificate is not
 * correctly signed by the trusted CA"), written NUL-terminated into buf (truncated to len - 1
 * bytes). Returns the length written, 0 when the last connection attempt was not over TLS or no
 * TLS failure was recorded. For logs; the text is not stable. */
size_t onem2m_tls_detail(onem2m_client *c, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ONEM2M_H */
