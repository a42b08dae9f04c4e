// The C half of the oneM2M C API: descriptions of the result codes. Everything else is in
// Sources/OneM2MCAPI (Swift, exported with @_cdecl).
#include "onem2m.h"

const char *onem2m_strerror(int code) {
    switch (code) {
    case ONEM2M_OK: return "success";
    case ONEM2M_EINVAL: return "invalid argument";
    case ONEM2M_EARENA: return "arena too small or misaligned";
    case ONEM2M_EURL: return "URL is not mqtt:// or mqtts://host[:port]";
    case ONEM2M_ERESOLVE: return "host name could not be resolved";
    case ONEM2M_ECONNECT: return "connection refused or host unreachable";
    case ONEM2M_ETIMEDOUT: return "timed out";
    case ONEM2M_ECLOSED: return "connection lost";
    case ONEM2M_ENOTCONN: return "not connected";
    case ONEM2M_EREFUSED: return "broker refused the connection";
    case ONEM2M_EPROTOCOL: return "MQTT protocol violation by the broker";
    case ONEM2M_EBUSY: return "busy: buffers full, poll and retry";
    case ONEM2M_ETOOBIG: return "request too large for the buffers";
    case ONEM2M_EREJECTED: return "the CSE rejected the request";
    case ONEM2M_EBADRESPONSE: return "malformed response from the CSE";
    case ONEM2M_ESTATE: return "not valid in the current state";
    case ONEM2M_EIO: return "system error";
    case ONEM2M_ETLSNOAUTH: return "mqtts:// needs tls_ca_file or a pre-shared key";
    case ONEM2M_ETLSCONFIG: return "TLS configuration could not be loaded (CA, certificate, key or PSK)";
    case ONEM2M_ETLSUNTRUSTED: return "broker certificate is not trusted";
    case ONEM2M_ETLSEXPIRED: return "broker certificate has expired or is not valid yet";
    case ONEM2M_ETLSHOSTNAME: return "broker certificate does not match the host name";
    case ONEM2M_ETLSPSK: return "pre-shared key rejected";
    case ONEM2M_ETLSCLIENTCERT: return "broker required or rejected the client certificate";
    case ONEM2M_ETLSHANDSHAKE: return "TLS handshake failed";
    default: return "unknown error";
    }
}
