// CMbedTLS: a small C shim over mbedTLS (2.28 LTS; written to build against 3.x too) for the
// TLSTransport Swift module. It owns one client TLS context (ssl + config + DRBG + entropy +
// trust chain + own certificate/key + PSK) behind an opaque pointer, so Swift never touches
// mbedTLS structs, macros or their (in 3.x private) fields.
//
// This header does not include any mbedTLS header: Swift (and cross builds) import it without
// the mbedTLS include path. The numeric constants below are mbedTLS's own values; cmbedtls.c
// checks each one against the library's macro at compile time.
//
// Conventions: functions return 0 (or a byte count >= 0) on success and a negative mbedTLS
// error code on failure. Nothing here blocks: I/O goes through the BIO callbacks the caller
// installs (non-blocking sockets), and "would block" comes back as CMBEDTLS_ERR_WANT_READ /
// CMBEDTLS_ERR_WANT_WRITE.
#ifndef CMBEDTLS_H
#define CMBEDTLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One client TLS context. Create with `cmbedtls_new`, free with `cmbedtls_free`.
typedef struct cmbedtls_context cmbedtls_context;

// MARK: - Error codes (mbedTLS values)

static const int32_t CMBEDTLS_ERR_WANT_READ = -0x6900;
static const int32_t CMBEDTLS_ERR_WANT_WRITE = -0x6880;
static const int32_t CMBEDTLS_ERR_PEER_CLOSE_NOTIFY = -0x7880;
static const int32_t CMBEDTLS_ERR_CONN_EOF = -0x7280;
static const int32_t CMBEDTLS_ERR_FATAL_ALERT_MESSAGE = -0x7780;
static const int32_t CMBEDTLS_ERR_ALLOC_FAILED = -0x7F00;
static const int32_t CMBEDTLS_ERR_BAD_INPUT_DATA = -0x7100;
static const int32_t CMBEDTLS_ERR_BAD_HS_FINISHED = -0x7E80;
static const int32_t CMBEDTLS_ERR_NO_CIPHER_CHOSEN = -0x7380;
static const int32_t CMBEDTLS_ERR_X509_CERT_VERIFY_FAILED = -0x2700;
static const int32_t CMBEDTLS_ERR_NET_CONN_RESET = -0x0050;
static const int32_t CMBEDTLS_ERR_NET_SEND_FAILED = -0x004E;
static const int32_t CMBEDTLS_ERR_NET_RECV_FAILED = -0x004C;
/// Shim-specific (outside mbedTLS's ranges): the configuration cannot work, e.g. certificate
/// verification is required but no trust anchor (CA) was given and no PSK is configured.
static const int32_t CMBEDTLS_ERR_NO_TRUST_ANCHOR = -0x10001;
/// Shim-specific: a client certificate was given without its key, or a key without a certificate.
static const int32_t CMBEDTLS_ERR_INCOMPLETE_IDENTITY = -0x10002;

/// mbedTLS error codes in the X.509 and PK/PEM ranges (parsing a CA, certificate or key failed)
/// lie in -0x2000 ... -0x3FFF (X.509), -0x1000 ... -0x12FF (PEM), -0x3800 ... -0x3FFF (PK).

// MARK: - Certificate verification flags (MBEDTLS_X509_BADCERT_*)

static const uint32_t CMBEDTLS_BADCERT_EXPIRED = 0x01;
static const uint32_t CMBEDTLS_BADCERT_REVOKED = 0x02;
static const uint32_t CMBEDTLS_BADCERT_CN_MISMATCH = 0x04;
static const uint32_t CMBEDTLS_BADCERT_NOT_TRUSTED = 0x08;
static const uint32_t CMBEDTLS_BADCERT_MISSING = 0x40;
static const uint32_t CMBEDTLS_BADCERT_SKIP_VERIFY = 0x80;
static const uint32_t CMBEDTLS_BADCERT_OTHER = 0x0100;
static const uint32_t CMBEDTLS_BADCERT_FUTURE = 0x0200;
static const uint32_t CMBEDTLS_BADCERT_KEY_USAGE = 0x0800;
static const uint32_t CMBEDTLS_BADCERT_EXT_KEY_USAGE = 0x1000;
static const uint32_t CMBEDTLS_BADCERT_NS_CERT_TYPE = 0x2000;
static const uint32_t CMBEDTLS_BADCERT_BAD_MD = 0x4000;
static const uint32_t CMBEDTLS_BADCERT_BAD_PK = 0x8000;
static const uint32_t CMBEDTLS_BADCERT_BAD_KEY = 0x010000;

// MARK: - Options

/// MBEDTLS_SSL_VERIFY_*.
static const int32_t CMBEDTLS_VERIFY_NONE = 0;
static const int32_t CMBEDTLS_VERIFY_OPTIONAL = 1;
static const int32_t CMBEDTLS_VERIFY_REQUIRED = 2;

/// How `cmbedtls_setup` configures the context.
typedef struct cmbedtls_options {
    /// CMBEDTLS_VERIFY_REQUIRED (default and recommended), _OPTIONAL (handshake goes on, flags
    /// are recorded) or _NONE.
    int32_t verify_mode;
    /// Offer only PSK cipher suites (ECDHE-PSK first for forward secrecy, then plain PSK).
    int32_t psk_only;
    /// RFC 6066 max_fragment_length code: 0 = not negotiated, 1 = 512, 2 = 1024, 3 = 2048, 4 = 4096.
    int32_t max_fragment_length_code;
} cmbedtls_options;

// MARK: - BIO

/// Non-blocking send/recv callbacks (the mbedTLS BIO signature): return bytes moved, 0 for
/// end of stream (recv), CMBEDTLS_ERR_WANT_READ/WRITE for "would block", or a negative
/// mbedTLS net error (CMBEDTLS_ERR_NET_*).
typedef int (*cmbedtls_send_fn)(void *bio, const unsigned char *buf, size_t len);
typedef int (*cmbedtls_recv_fn)(void *bio, unsigned char *buf, size_t len);

// MARK: - Lifecycle and configuration

/// Allocates and initializes a context (no keys, no config yet). NULL if out of memory.
cmbedtls_context *cmbedtls_new(void);

/// Frees everything the context owns (keys are zeroized by mbedTLS). NULL is ignored.
void cmbedtls_free(cmbedtls_context *ctx);

/// Seeds the CTR-DRBG from the platform entropy source, with `personalization` mixed in.
int32_t cmbedtls_seed(cmbedtls_context *ctx, const void *personalization, size_t length);

/// Adds trust anchors from a buffer: PEM text (one or more certificates; need not be
/// NUL-terminated) or one DER certificate.
int32_t cmbedtls_add_ca_buffer(cmbedtls_context *ctx, const void *data, size_t length);

/// Adds trust anchors from a PEM or DER file.
int32_t cmbedtls_add_ca_file(cmbedtls_context *ctx, const char *path);

/// Adds the client certificate (chain) from a buffer (PEM or DER) / a file.
int32_t cmbedtls_add_own_certificate_buffer(cmbedtls_context *ctx, const void *data, size_t length);
int32_t cmbedtls_add_own_certificate_file(cmbedtls_context *ctx, const char *path);

/// Sets the client private key from a buffer (PEM or DER) / a file; `password` may be NULL.
int32_t cmbedtls_set_own_key_buffer(cmbedtls_context *ctx, const void *data, size_t length,
                                    const void *password, size_t password_length);
int32_t cmbedtls_set_own_key_file(cmbedtls_context *ctx, const char *path, const char *password);

/// Sets the pre-shared key and its identity (both copied).
int32_t cmbedtls_set_psk(cmbedtls_context *ctx, const void *key, size_t key_length,
                         const void *identity, size_t identity_length);

/// Applies the configuration (TLS 1.2 minimum, verification, trust chain, own certificate,
/// PSK, cipher suites, fragment length) and sets up the SSL context. Call once, after the
/// add/set calls above and `cmbedtls_seed`.
int32_t cmbedtls_setup(cmbedtls_context *ctx, const cmbedtls_options *options);

/// Sets the name the server certificate must match (also sent as SNI). An IPv4/IPv6 literal
/// is matched against the certificate's iPAddress subject-alternative names (mbedTLS 2.28
/// itself compares only DNS names and the CN). NULL disables the name check.
int32_t cmbedtls_set_hostname(cmbedtls_context *ctx, const char *hostname);

/// Installs the BIO (called by every handshake/read/write).
void cmbedtls_set_bio(cmbedtls_context *ctx, void *bio, cmbedtls_send_fn send, cmbedtls_recv_fn recv);

/// Forgets the previous connection (keeps the configuration) so a new handshake can start.
/// Also clears the recorded alert.
int32_t cmbedtls_session_reset(cmbedtls_context *ctx);

// MARK: - Connection

/// Advances the handshake: 0 when complete, CMBEDTLS_ERR_WANT_READ/WRITE to call again when
/// the socket is ready, another negative code on failure (see `cmbedtls_last_alert`,
/// `cmbedtls_verify_result`).
int32_t cmbedtls_handshake(cmbedtls_context *ctx);

/// Encrypts and sends up to one record of `buf` (at most the maximum record payload).
/// Returns the number of bytes taken (>= 0) or a negative code. Bytes are taken as soon as
/// their record is built: if the socket cannot take the whole record now, the rest stays in
/// the context and is sent by `cmbedtls_flush` (or the next write/read). Returns
/// CMBEDTLS_ERR_WANT_WRITE (nothing taken) while an earlier record is still pending.
intptr_t cmbedtls_write(cmbedtls_context *ctx, const void *buf, size_t len);

/// Sends what is left of a pending record: 0 when nothing is pending (any more),
/// CMBEDTLS_ERR_WANT_WRITE if some is still pending, or a negative error.
int32_t cmbedtls_flush(cmbedtls_context *ctx);

/// 1 if encrypted output is waiting to be sent.
int32_t cmbedtls_has_pending_output(const cmbedtls_context *ctx);

/// Reads decrypted application data: bytes (> 0), 0 or CMBEDTLS_ERR_PEER_CLOSE_NOTIFY /
/// CMBEDTLS_ERR_CONN_EOF when the peer closed, CMBEDTLS_ERR_WANT_READ/WRITE, or an error.
intptr_t cmbedtls_read(cmbedtls_context *ctx, void *buf, size_t len);

/// 1 if decrypted bytes or an unprocessed record are buffered (a read can make progress
/// without the socket becoming readable).
int32_t cmbedtls_has_pending_input(const cmbedtls_context *ctx);

/// Sends close_notify (non-blocking, best effort).
int32_t cmbedtls_close_notify(cmbedtls_context *ctx);

// MARK: - Diagnostics

/// The X.509 verification flags of the last handshake (CMBEDTLS_BADCERT_*); 0 when the
/// certificate was verified, 0xFFFFFFFF when no certificate was checked (e.g. PSK).
uint32_t cmbedtls_verify_result(const cmbedtls_context *ctx);

/// The description of the last fatal alert received from the peer (0...255), or -1.
int32_t cmbedtls_last_alert(const cmbedtls_context *ctx);

/// 1 if the server sent a CertificateRequest in the last handshake.
int32_t cmbedtls_server_requested_certificate(const cmbedtls_context *ctx);

/// 1 if a client certificate and key are configured; 1 if a PSK is configured.
int32_t cmbedtls_has_own_certificate(const cmbedtls_context *ctx);
int32_t cmbedtls_has_psk(const cmbedtls_context *ctx);

/// The negotiated cipher suite name / protocol version ("TLSv1.2"), or "" before a handshake.
const char *cmbedtls_ciphersuite(const cmbedtls_context *ctx);
const char *cmbedtls_version(const cmbedtls_context *ctx);

/// The maximum fragment length in force (input side) and the compile-time record buffer
/// sizes (MBEDTLS_SSL_IN_CONTENT_LEN / MBEDTLS_SSL_OUT_CONTENT_LEN).
size_t cmbedtls_in_content_length(void);
size_t cmbedtls_out_content_length(void);

/// mbedtls_strerror: writes a NUL-terminated description of `code` into `buf` (truncated
/// to `len`) and returns its length without the NUL.
size_t cmbedtls_strerror(int32_t code, char *buf, size_t len);

/// mbedtls_x509_crt_verify_info: one line per flag (prefix "! "), into `buf`; returns the
/// length written (without the NUL), 0 if nothing.
size_t cmbedtls_verify_info(uint32_t flags, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif // CMBEDTLS_H
