/*
 * Parsing an OCSPRequest from the network: size-bounded, whole-input DER
 * through OpenSSL's OCSP_REQUEST, then reduced to what answering needs (the
 * CertIDs' hashes and serials as text, whether a nonce must be echoed). The
 * common RFC 5019 form (one SHA-1 CertID, nothing else) is also recognised
 * by a small strict-DER reader that allocates nothing.
 */
#include "ocsp/ocsp.h"

#include "core/hex.h"
#include <openssl/err.h>
#include <string.h>

void rb_ocsp_request_clear(rb_ocsp_request *req)
{
    if (req == NULL)
        return;
    OCSP_REQUEST_free(req->req);
    memset(req, 0, sizeof(*req));
}

/*
 * The serial as certificates.serial spells it: upper-case hex of the
 * magnitude. Negative, zero or longer than 20 octets (RFC 5280 4.1.2.2)
 * cannot be ours and gives "".
 */
static void serial_text(const ASN1_INTEGER *serial, char out[41])
{
    out[0] = '\0';
    if (serial == NULL || ASN1_STRING_type(serial) != V_ASN1_INTEGER)
        return;
    int len = ASN1_STRING_length(serial);
    const uint8_t *bytes = ASN1_STRING_get0_data(serial);
    if (len <= 0 || len > 20)
        return;
    rb_hex_upper(bytes, (size_t)len, out);
}

/*
 * RFC 8954 2.1: the nonce extension's value is an OCTET STRING of 1 to 32
 * octets. Returns 1 for such a nonce. Older clients put the raw octets in the
 * extension; their length is measured as is.
 */
static int echoable_nonce(OCSP_REQUEST *req)
{
    int at = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    if (at < 0)
        return 0;
    X509_EXTENSION *ext = OCSP_REQUEST_get_ext(req, at);
    ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
    const uint8_t *p = ASN1_STRING_get0_data(value);
    long len = ASN1_STRING_length(value);
    ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &p, len);
    long nonce_len = len;
    if (inner != NULL && p == ASN1_STRING_get0_data(value) + len)
        nonce_len = ASN1_STRING_length(inner);
    ASN1_OCTET_STRING_free(inner);
    return nonce_len >= 1 && nonce_len <= RB_OCSP_MAX_NONCE;
}

/* A DER element read by der_next: its tag and where its contents lie. */
typedef struct der_elem {
    int tag;
    const uint8_t *body, *end;
} der_elem;

/*
 * Reads the element starting at *p (before end) with tag, in strict DER:
 * one-byte tag, definite length in the shortest form, at most 64 KiB.
 * Advances *p past it. Returns 0 for anything else.
 */
static int der_next(const uint8_t **p, const uint8_t *end, int tag, der_elem *out)
{
    const uint8_t *at = *p;
    if (end - at < 2 || at[0] != tag)
        return 0;
    size_t len = at[1];
    at += 2;
    if (len == 0x81) {
        if (end - at < 1 || at[0] < 0x80)
            return 0;
        len = at[0];
        at += 1;
    } else if (len == 0x82) {
        if (end - at < 2 || at[0] == 0)
            return 0;
        len = (size_t)at[0] << 8 | at[1];
        at += 2;
    } else if (len > 0x7f) {
        return 0;
    }
    if ((size_t)(end - at) < len)
        return 0;
    out->tag = tag;
    out->body = at;
    out->end = at + len;
    *p = at + len;
    return 1;
}

/* Each SEQUENCE must be the whole of its parent: nothing optional may follow. */
static int der_only(const uint8_t **p, const uint8_t *end, int tag, der_elem *out)
{
    return der_next(p, end, tag, out) && *p == end;
}

int rb_ocsp_request_parse_simple(const uint8_t *der, size_t len, rb_ocsp_certid *out)
{
    static const uint8_t sha1_oid[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};
    const uint8_t *p = der, *end = der + len;
    der_elem req, tbs, list, one, cid, alg, oid, null, name, key, serial;
    if (len > RB_OCSP_MAX_REQUEST_BYTES || !der_only(&p, end, 0x30, &req))
        return 0;
    p = req.body;
    if (!der_only(&p, req.end, 0x30, &tbs))
        return 0; /* a signature follows */
    p = tbs.body;
    if (!der_only(&p, tbs.end, 0x30, &list))
        return 0; /* version, requestorName or requestExtensions */
    p = list.body;
    if (!der_only(&p, list.end, 0x30, &one))
        return 0; /* more than one Request */
    p = one.body;
    if (!der_only(&p, one.end, 0x30, &cid))
        return 0; /* singleRequestExtensions */
    p = cid.body;
    if (!der_next(&p, cid.end, 0x30, &alg) || !der_next(&p, cid.end, 0x04, &name) ||
        !der_next(&p, cid.end, 0x04, &key) || !der_only(&p, cid.end, 0x02, &serial))
        return 0;
    p = alg.body;
    if (!der_next(&p, alg.end, 0x06, &oid) || oid.end - oid.body != sizeof(sha1_oid) ||
        memcmp(oid.body, sha1_oid, sizeof(sha1_oid)) != 0)
        return 0;
    if (p != alg.end && (!der_only(&p, alg.end, 0x05, &null) || null.body != null.end))
        return 0;
    /* A positive serial of 1 to 20 octets, minimally encoded; the rest is for OpenSSL. */
    const uint8_t *mag = serial.body;
    size_t mag_len = (size_t)(serial.end - serial.body);
    if (mag_len == 0 || (mag[0] & 0x80) != 0)
        return 0;
    if (mag[0] == 0 && mag_len > 1) {
        if ((mag[1] & 0x80) == 0)
            return 0;
        mag++;
        mag_len--;
    }
    if (mag_len > 20 || (mag_len == 1 && mag[0] == 0))
        return 0;
    memset(out, 0, sizeof(*out));
    rb_hex_upper(mag, mag_len, out->serial);
    out->hash_nid = NID_sha1;
    out->name_hash = name.body;
    out->name_hash_len = (size_t)(name.end - name.body);
    out->key_hash = key.body;
    out->key_hash_len = (size_t)(key.end - key.body);
    return 1;
}

static void describe_certid(OCSP_CERTID *cid, rb_ocsp_certid *out)
{
    ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    OCSP_id_get0_info(&name_hash, &alg, &key_hash, &serial, cid);
    out->id = cid;
    out->hash_nid = alg ? OBJ_obj2nid(alg) : NID_undef;
    out->name_hash = ASN1_STRING_get0_data(name_hash);
    out->name_hash_len = (size_t)ASN1_STRING_length(name_hash);
    out->key_hash = ASN1_STRING_get0_data(key_hash);
    out->key_hash_len = (size_t)ASN1_STRING_length(key_hash);
    serial_text(serial, out->serial);
}

rb_status rb_ocsp_request_parse(const uint8_t *der, size_t len, rb_ocsp_request *out, rb_error *err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1", "the OCSP request is empty");
    if (len > RB_OCSP_MAX_REQUEST_BYTES)
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1",
                       "the OCSP request has %zu bytes, more than the %d accepted", len,
                       RB_OCSP_MAX_REQUEST_BYTES);
    const uint8_t *p = der;
    OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    if (req == NULL) {
        ERR_clear_error();
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1", "the OCSP request is not DER OCSPRequest");
    }
    if (p != der + len) {
        OCSP_REQUEST_free(req);
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1",
                       "the OCSP request has %zu bytes after its end", (size_t)(der + len - p));
    }
    int count = OCSP_request_onereq_count(req);
    if (count < 1 || count > RB_OCSP_MAX_CERTIDS) {
        OCSP_REQUEST_free(req);
        return rb_fail(err, RB_EINVAL, "RFC 6960 4.1.1",
                       "the OCSP request asks about %d certificates; 1 to %d are answered", count,
                       RB_OCSP_MAX_CERTIDS);
    }
    out->req = req;
    out->count = (size_t)count;
    for (int i = 0; i < count; i++)
        describe_certid(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)), &out->ids[i]);
    out->has_nonce = echoable_nonce(req);
    return RB_OK;
}
