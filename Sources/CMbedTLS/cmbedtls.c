// CMbedTLS implementation. See include/cmbedtls.h.
//
// Built and tested against mbedTLS 2.28 (Debian 12). For 3.x the private-field accesses are
// enabled through MBEDTLS_ALLOW_PRIVATE_ACCESS and the few renamed calls are switched on the
// version number.
#define MBEDTLS_ALLOW_PRIVATE_ACCESS 1

#include "cmbedtls.h"

#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<mbedtls/build_info.h>)
#include <mbedtls/build_info.h>
#else
#include <mbedtls/config.h>
#endif
#else
#include <mbedtls/config.h>
#endif
#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/socket.h>
#include <arpa/inet.h>
#define CMBEDTLS_HAVE_INET_PTON 1
#endif

// The header's numbers are mbedTLS's.
_Static_assert(MBEDTLS_ERR_SSL_WANT_READ == -0x6900, "WANT_READ");
_Static_assert(MBEDTLS_ERR_SSL_WANT_WRITE == -0x6880, "WANT_WRITE");
_Static_assert(MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY == -0x7880, "PEER_CLOSE_NOTIFY");
_Static_assert(MBEDTLS_ERR_SSL_CONN_EOF == -0x7280, "CONN_EOF");
_Static_assert(MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE == -0x7780, "FATAL_ALERT");
_Static_assert(MBEDTLS_ERR_SSL_ALLOC_FAILED == -0x7F00, "ALLOC_FAILED");
_Static_assert(MBEDTLS_ERR_SSL_BAD_INPUT_DATA == -0x7100, "BAD_INPUT_DATA");
_Static_assert(MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN == -0x7380, "NO_CIPHER_CHOSEN");
_Static_assert(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED == -0x2700, "CERT_VERIFY_FAILED");
_Static_assert(MBEDTLS_ERR_NET_CONN_RESET == -0x0050, "NET_CONN_RESET");
_Static_assert(MBEDTLS_ERR_NET_SEND_FAILED == -0x004E, "NET_SEND_FAILED");
_Static_assert(MBEDTLS_ERR_NET_RECV_FAILED == -0x004C, "NET_RECV_FAILED");
#if MBEDTLS_VERSION_NUMBER < 0x03000000
_Static_assert(MBEDTLS_ERR_SSL_BAD_HS_FINISHED == -0x7E80, "BAD_HS_FINISHED");
#endif
_Static_assert(MBEDTLS_X509_BADCERT_EXPIRED == 0x01, "EXPIRED");
_Static_assert(MBEDTLS_X509_BADCERT_REVOKED == 0x02, "REVOKED");
_Static_assert(MBEDTLS_X509_BADCERT_CN_MISMATCH == 0x04, "CN_MISMATCH");
_Static_assert(MBEDTLS_X509_BADCERT_NOT_TRUSTED == 0x08, "NOT_TRUSTED");
_Static_assert(MBEDTLS_X509_BADCERT_MISSING == 0x40, "MISSING");
_Static_assert(MBEDTLS_X509_BADCERT_SKIP_VERIFY == 0x80, "SKIP_VERIFY");
_Static_assert(MBEDTLS_X509_BADCERT_OTHER == 0x0100, "OTHER");
_Static_assert(MBEDTLS_X509_BADCERT_FUTURE == 0x0200, "FUTURE");
_Static_assert(MBEDTLS_X509_BADCERT_KEY_USAGE == 0x0800, "KEY_USAGE");
_Static_assert(MBEDTLS_X509_BADCERT_EXT_KEY_USAGE == 0x1000, "EXT_KEY_USAGE");
_Static_assert(MBEDTLS_X509_BADCERT_NS_CERT_TYPE == 0x2000, "NS_CERT_TYPE");
_Static_assert(MBEDTLS_X509_BADCERT_BAD_MD == 0x4000, "BAD_MD");
_Static_assert(MBEDTLS_X509_BADCERT_BAD_PK == 0x8000, "BAD_PK");
_Static_assert(MBEDTLS_X509_BADCERT_BAD_KEY == 0x010000, "BAD_KEY");
_Static_assert(MBEDTLS_SSL_VERIFY_NONE == 0 && MBEDTLS_SSL_VERIFY_OPTIONAL == 1 && MBEDTLS_SSL_VERIFY_REQUIRED == 2, "VERIFY");

struct cmbedtls_context {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    int ca_count;
    int have_own_cert;
    int have_own_key;
    int have_psk;
    int seeded;
    int set_up;
    int last_alert;
    int server_requested_certificate;
    // The IP literal the server certificate must name (iPAddress SAN), if the host is one.
    unsigned char ip[16];
    size_t ip_length;
};

/// PSK-only suites: ECDHE-PSK (forward secrecy) first, then plain PSK (cheapest on a device).
static const int psk_suites[] = {
#if defined(MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED)
#if defined(MBEDTLS_CHACHAPOLY_C)
    MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384,
    MBEDTLS_TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
#endif
#if defined(MBEDTLS_KEY_EXCHANGE_PSK_ENABLED)
    MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256,
#if defined(MBEDTLS_CHACHAPOLY_C)
    MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_PSK_WITH_AES_128_CCM,
    MBEDTLS_TLS_PSK_WITH_AES_128_CBC_SHA256,
#endif
    0,
};

cmbedtls_context *cmbedtls_new(void) {
    cmbedtls_context *ctx = (cmbedtls_context *)calloc(1, sizeof *ctx);
    if (ctx == NULL) return NULL;
    mbedtls_ssl_init(&ctx->ssl);
    mbedtls_ssl_config_init(&ctx->conf);
    mbedtls_entropy_init(&ctx->entropy);
    mbedtls_ctr_drbg_init(&ctx->drbg);
    mbedtls_x509_crt_init(&ctx->ca);
    mbedtls_x509_crt_init(&ctx->own_cert);
    mbedtls_pk_init(&ctx->own_key);
    ctx->last_alert = -1;
    return ctx;
}

void cmbedtls_free(cmbedtls_context *ctx) {
    if (ctx == NULL) return;
    mbedtls_ssl_free(&ctx->ssl);
    mbedtls_ssl_config_free(&ctx->conf);
    mbedtls_pk_free(&ctx->own_key);
    mbedtls_x509_crt_free(&ctx->own_cert);
    mbedtls_x509_crt_free(&ctx->ca);
    mbedtls_ctr_drbg_free(&ctx->drbg);
    mbedtls_entropy_free(&ctx->entropy);
    free(ctx);
}

int32_t cmbedtls_seed(cmbedtls_context *ctx, const void *personalization, size_t length) {
    int rc = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func, &ctx->entropy,
                                   (const unsigned char *)personalization, length);
    if (rc == 0) ctx->seeded = 1;
    return rc;
}

/// mbedtls_x509_crt_parse wants PEM NUL-terminated with the NUL counted; DER as is.
static int parse_crt_buffer(mbedtls_x509_crt *chain, const void *data, size_t length) {
    const unsigned char *bytes = (const unsigned char *)data;
    if (data == NULL || length == 0) return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
    if (bytes[0] == 0x30) return mbedtls_x509_crt_parse_der(chain, bytes, length);  // DER SEQUENCE
    if (bytes[length - 1] == 0) return mbedtls_x509_crt_parse(chain, bytes, length);
    unsigned char *copy = (unsigned char *)malloc(length + 1);
    if (copy == NULL) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    memcpy(copy, bytes, length);
    copy[length] = 0;
    int rc = mbedtls_x509_crt_parse(chain, copy, length + 1);
    free(copy);
    return rc;
}

int32_t cmbedtls_add_ca_buffer(cmbedtls_context *ctx, const void *data, size_t length) {
    int rc = parse_crt_buffer(&ctx->ca, data, length);
    // A positive result counts certificates in a bundle that failed to parse: refuse it.
    if (rc > 0) rc = MBEDTLS_ERR_X509_INVALID_FORMAT;
    if (rc == 0) ctx->ca_count++;
    return rc;
}

int32_t cmbedtls_add_ca_file(cmbedtls_context *ctx, const char *path) {
    int rc = mbedtls_x509_crt_parse_file(&ctx->ca, path);
    if (rc > 0) rc = MBEDTLS_ERR_X509_INVALID_FORMAT;
    if (rc == 0) ctx->ca_count++;
    return rc;
}

int32_t cmbedtls_add_own_certificate_buffer(cmbedtls_context *ctx, const void *data, size_t length) {
    int rc = parse_crt_buffer(&ctx->own_cert, data, length);
    if (rc > 0) rc = MBEDTLS_ERR_X509_INVALID_FORMAT;
    if (rc == 0) ctx->have_own_cert = 1;
    return rc;
}

int32_t cmbedtls_add_own_certificate_file(cmbedtls_context *ctx, const char *path) {
    int rc = mbedtls_x509_crt_parse_file(&ctx->own_cert, path);
    if (rc > 0) rc = MBEDTLS_ERR_X509_INVALID_FORMAT;
    if (rc == 0) ctx->have_own_cert = 1;
    return rc;
}

int32_t cmbedtls_set_own_key_buffer(cmbedtls_context *ctx, const void *data, size_t length,
                                    const void *password, size_t password_length) {
    const unsigned char *bytes = (const unsigned char *)data;
    if (data == NULL || length == 0) return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    unsigned char *copy = NULL;
    if (bytes[0] != 0x30 && bytes[length - 1] != 0) {  // PEM without its NUL
        copy = (unsigned char *)malloc(length + 1);
        if (copy == NULL) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        memcpy(copy, bytes, length);
        copy[length] = 0;
        bytes = copy;
        length += 1;
    }
    mbedtls_pk_free(&ctx->own_key);
    mbedtls_pk_init(&ctx->own_key);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int rc = mbedtls_pk_parse_key(&ctx->own_key, bytes, length, (const unsigned char *)password,
                                  password_length, mbedtls_ctr_drbg_random, &ctx->drbg);
#else
    int rc = mbedtls_pk_parse_key(&ctx->own_key, bytes, length, (const unsigned char *)password,
                                  password_length);
#endif
    if (copy != NULL) {
        mbedtls_platform_zeroize(copy, length);
        free(copy);
    }
    if (rc == 0) ctx->have_own_key = 1;
    return rc;
}

int32_t cmbedtls_set_own_key_file(cmbedtls_context *ctx, const char *path, const char *password) {
    mbedtls_pk_free(&ctx->own_key);
    mbedtls_pk_init(&ctx->own_key);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int rc = mbedtls_pk_parse_keyfile(&ctx->own_key, path, password, mbedtls_ctr_drbg_random, &ctx->drbg);
#else
    int rc = mbedtls_pk_parse_keyfile(&ctx->own_key, path, password);
#endif
    if (rc == 0) ctx->have_own_key = 1;
    return rc;
}

int32_t cmbedtls_set_psk(cmbedtls_context *ctx, const void *key, size_t key_length,
                         const void *identity, size_t identity_length) {
    int rc = mbedtls_ssl_conf_psk(&ctx->conf, (const unsigned char *)key, key_length,
                                  (const unsigned char *)identity, identity_length);
    if (rc == 0) ctx->have_psk = 1;
    return rc;
}

/// Finds `ip` among the iPAddress entries ([7] IMPLICIT OCTET STRING) of the certificate's
/// subjectAltName extension. mbedTLS 2.28 does not keep those entries, so walk the DER.
static int san_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t ip_length) {
    static const unsigned char san_oid[] = {0x55, 0x1D, 0x11};  // 2.5.29.17
    if (crt->v3_ext.p == NULL || crt->v3_ext.len == 0) return 0;
    unsigned char *p = crt->v3_ext.p;
    const unsigned char *end = crt->v3_ext.p + crt->v3_ext.len;
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return 0;
    end = p + len;
    while (p < end) {
        size_t ext_len;
        if (mbedtls_asn1_get_tag(&p, end, &ext_len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return 0;
        const unsigned char *ext_end = p + ext_len;
        size_t oid_len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0) return 0;
        int is_san = oid_len == sizeof san_oid && memcmp(p, san_oid, sizeof san_oid) == 0;
        p += oid_len;
        if (!is_san) {
            p = (unsigned char *)ext_end;
            continue;
        }
        int critical = 0;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &critical);  // optional
        size_t octets;
        if (mbedtls_asn1_get_tag(&p, ext_end, &octets, MBEDTLS_ASN1_OCTET_STRING) != 0) return 0;
        const unsigned char *names_end = p + octets;
        size_t names_len;
        if (mbedtls_asn1_get_tag(&p, names_end, &names_len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return 0;
        names_end = p + names_len;
        while (p < names_end) {
            unsigned char tag = *p++;
            size_t name_len;
            if (mbedtls_asn1_get_len(&p, names_end, &name_len) != 0) return 0;
            if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && name_len == ip_length && memcmp(p, ip, ip_length) == 0) {
                return 1;
            }
            p += name_len;
        }
        return 0;
    }
    return 0;
}

/// Verification callback: for an IP-literal host, accept the end-entity certificate's name if
/// an iPAddress SAN matches (mbedTLS flagged CN_MISMATCH because it compares DNS names only).
static int verify_callback(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
    cmbedtls_context *ctx = (cmbedtls_context *)p;
    if (depth == 0 && ctx->ip_length > 0 && (*flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0 &&
        san_has_ip(crt, ctx->ip, ctx->ip_length)) {
        *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
    }
    return 0;
}

int32_t cmbedtls_setup(cmbedtls_context *ctx, const cmbedtls_options *options) {
    if (ctx->set_up) return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    if (!ctx->seeded) {
        int rc = cmbedtls_seed(ctx, "cmbedtls", 8);
        if (rc != 0) return rc;
    }
    if (ctx->have_own_cert != ctx->have_own_key) return CMBEDTLS_ERR_INCOMPLETE_IDENTITY;
    int verify = options->verify_mode;
    int psk_only = options->psk_only && ctx->have_psk;
    // Required verification without anything to verify against can never succeed: say so
    // now rather than with a "not trusted" flag after a round trip. (PSK-only needs no CA.)
    if (verify == MBEDTLS_SSL_VERIFY_REQUIRED && ctx->ca_count == 0 && !psk_only) return CMBEDTLS_ERR_NO_TRUST_ANCHOR;

    int rc = mbedtls_ssl_config_defaults(&ctx->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) return rc;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_min_tls_version(&ctx->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);
    mbedtls_ssl_conf_authmode(&ctx->conf, verify);
    mbedtls_ssl_conf_verify(&ctx->conf, verify_callback, ctx);
    if (ctx->ca_count > 0) mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, NULL);
    if (ctx->have_own_cert) {
        rc = mbedtls_ssl_conf_own_cert(&ctx->conf, &ctx->own_cert, &ctx->own_key);
        if (rc != 0) return rc;
    }
    if (psk_only) mbedtls_ssl_conf_ciphersuites(&ctx->conf, psk_suites);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(&ctx->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    if (options->max_fragment_length_code > 0) {
        rc = mbedtls_ssl_conf_max_frag_len(&ctx->conf, (unsigned char)options->max_fragment_length_code);
        if (rc != 0) return rc;
    }
#endif
    rc = mbedtls_ssl_setup(&ctx->ssl, &ctx->conf);
    if (rc != 0) return rc;
    ctx->set_up = 1;
    return 0;
}

int32_t cmbedtls_set_hostname(cmbedtls_context *ctx, const char *hostname) {
    ctx->ip_length = 0;
#if defined(CMBEDTLS_HAVE_INET_PTON)
    if (hostname != NULL) {
        if (inet_pton(AF_INET, hostname, ctx->ip) == 1) {
            ctx->ip_length = 4;
        } else if (inet_pton(AF_INET6, hostname, ctx->ip) == 1) {
            ctx->ip_length = 16;
        }
    }
#endif
    return mbedtls_ssl_set_hostname(&ctx->ssl, hostname);
}

void cmbedtls_set_bio(cmbedtls_context *ctx, void *bio, cmbedtls_send_fn send, cmbedtls_recv_fn recv) {
    mbedtls_ssl_set_bio(&ctx->ssl, bio, send, recv, NULL);
}

int32_t cmbedtls_session_reset(cmbedtls_context *ctx) {
    ctx->last_alert = -1;
    ctx->server_requested_certificate = 0;
    return mbedtls_ssl_session_reset(&ctx->ssl);
}

/// Records what the peer's fatal alert said (the record is still in the input buffer).
static void note_failure(cmbedtls_context *ctx, int rc) {
    if (ctx->ssl.client_auth) ctx->server_requested_certificate = 1;
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ctx->ssl.in_msg != NULL &&
        ctx->ssl.in_msgtype == MBEDTLS_SSL_MSG_ALERT) {
        ctx->last_alert = ctx->ssl.in_msg[1];
    }
}

int32_t cmbedtls_handshake(cmbedtls_context *ctx) {
    int rc = mbedtls_ssl_handshake(&ctx->ssl);
    if (ctx->ssl.client_auth) ctx->server_requested_certificate = 1;
    if (rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) note_failure(ctx, rc);
    return rc;
}

int32_t cmbedtls_flush(cmbedtls_context *ctx) {
    if (ctx->ssl.out_left == 0) return 0;
    static const unsigned char none = 0;
    // With output pending, mbedtls_ssl_write only flushes it (and returns the length given).
    int rc = mbedtls_ssl_write(&ctx->ssl, &none, 0);
    return rc < 0 ? rc : 0;
}

int32_t cmbedtls_has_pending_output(const cmbedtls_context *ctx) { return ctx->ssl.out_left > 0; }

intptr_t cmbedtls_write(cmbedtls_context *ctx, const void *buf, size_t len) {
    int rc = cmbedtls_flush(ctx);
    if (rc != 0) return rc;
    if (len == 0) return 0;
    int max = mbedtls_ssl_get_max_out_record_payload(&ctx->ssl);
    if (max < 0) return max;
    if (len > (size_t)max) len = (size_t)max;
    rc = mbedtls_ssl_write(&ctx->ssl, (const unsigned char *)buf, len);
    // The record was built and part of it is queued: the bytes are ours now.
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE && ctx->ssl.out_left > 0) return (intptr_t)len;
    if (rc < 0) note_failure(ctx, rc);
    return rc;
}

intptr_t cmbedtls_read(cmbedtls_context *ctx, void *buf, size_t len) {
    int rc = mbedtls_ssl_read(&ctx->ssl, (unsigned char *)buf, len);
    if (rc < 0 && rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) note_failure(ctx, rc);
    return rc;
}

int32_t cmbedtls_has_pending_input(const cmbedtls_context *ctx) {
    return mbedtls_ssl_get_bytes_avail(&ctx->ssl) > 0 || mbedtls_ssl_check_pending(&ctx->ssl) != 0;
}

int32_t cmbedtls_close_notify(cmbedtls_context *ctx) { return mbedtls_ssl_close_notify(&ctx->ssl); }

uint32_t cmbedtls_verify_result(const cmbedtls_context *ctx) { return mbedtls_ssl_get_verify_result(&ctx->ssl); }

int32_t cmbedtls_last_alert(const cmbedtls_context *ctx) { return ctx->last_alert; }

int32_t cmbedtls_server_requested_certificate(const cmbedtls_context *ctx) { return ctx->server_requested_certificate; }

int32_t cmbedtls_has_own_certificate(const cmbedtls_context *ctx) { return ctx->have_own_cert && ctx->have_own_key; }

int32_t cmbedtls_has_psk(const cmbedtls_context *ctx) { return ctx->have_psk; }

const char *cmbedtls_ciphersuite(const cmbedtls_context *ctx) {
    if (ctx->ssl.session == NULL) return "";
    const char *s = mbedtls_ssl_get_ciphersuite(&ctx->ssl);
    return s != NULL ? s : "";
}

const char *cmbedtls_version(const cmbedtls_context *ctx) {
    if (ctx->ssl.session == NULL) return "";
    const char *s = mbedtls_ssl_get_version(&ctx->ssl);
    return s != NULL ? s : "";
}

size_t cmbedtls_in_content_length(void) { return MBEDTLS_SSL_IN_CONTENT_LEN; }
size_t cmbedtls_out_content_length(void) { return MBEDTLS_SSL_OUT_CONTENT_LEN; }

size_t cmbedtls_strerror(int32_t code, char *buf, size_t len) {
    if (buf == NULL || len == 0) return 0;
    buf[0] = 0;
    if (code == CMBEDTLS_ERR_NO_TRUST_ANCHOR) {
        strncpy(buf, "CMBEDTLS - certificate verification required but no CA configured", len - 1);
        buf[len - 1] = 0;
    } else if (code == CMBEDTLS_ERR_INCOMPLETE_IDENTITY) {
        strncpy(buf, "CMBEDTLS - client certificate and private key must be given together", len - 1);
        buf[len - 1] = 0;
    } else {
        mbedtls_strerror(code, buf, len);
    }
    return strlen(buf);
}

size_t cmbedtls_verify_info(uint32_t flags, char *buf, size_t len) {
    if (buf == NULL || len == 0) return 0;
    buf[0] = 0;
    int n = mbedtls_x509_crt_verify_info(buf, len, "! ", flags);
    if (n < 0) return strlen(buf);
    return (size_t)n;
}
