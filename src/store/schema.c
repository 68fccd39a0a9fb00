/*
 * The schema, as a list of migrations. Append only: a released migration is
 * never edited, because databases in the field have already applied it.
 * Times are UTC milliseconds since the epoch (BIGINT) beside their text form
 * where people read them.
 */
#include "store/migrate.h"

static const rb_migration migrations[] = {
    {1, "settings and audit log",
     "CREATE TABLE settings ("
     " name TEXT PRIMARY KEY,"
     " value TEXT NOT NULL);"
     "CREATE TABLE audit_log ("
     " seq BIGINT PRIMARY KEY,"
     " at_ms BIGINT NOT NULL,"
     " actor TEXT NOT NULL,"
     " action TEXT NOT NULL,"
     " object TEXT NOT NULL,"
     " detail TEXT NOT NULL,"
     " prev_hash {blob} NOT NULL,"
     " hash {blob} NOT NULL);"
     "CREATE INDEX audit_log_action ON audit_log (action);"
     "CREATE INDEX audit_log_at ON audit_log (at_ms);"
     /* A checkpoint signs the chain head at seq; filled in by the CA later. */
     "CREATE TABLE audit_checkpoint ("
     " seq BIGINT PRIMARY KEY,"
     " head_hash {blob} NOT NULL,"
     " at_ms BIGINT NOT NULL,"
     " signer TEXT NOT NULL,"
     " signature {blob} NOT NULL);"},
    {2, "certification authority",
     /* The provider's own keys and certificates: root and issuing CAs, the
      * OCSP responder and the time-stamping unit. */
     "CREATE TABLE authorities ("
     " name TEXT PRIMARY KEY,"
     " role TEXT NOT NULL CHECK (role IN ('root', 'issuing', 'ocsp', 'tsa')),"
     " issuer TEXT NOT NULL,"
     " key_ref TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " serial TEXT NOT NULL,"
     " not_before_ms BIGINT NOT NULL,"
     " not_after_ms BIGINT NOT NULL,"
     " created_ms BIGINT NOT NULL,"
     " cert_der {blob} NOT NULL);"
     /* Subscriber certificates. serial is upper-case hex without colons. */
     "CREATE TABLE certificates ("
     " serial TEXT PRIMARY KEY,"
     " issuer TEXT NOT NULL REFERENCES authorities (name),"
     " profile TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " subject_id TEXT,"
     " spki_sha256 TEXT NOT NULL,"
     " fields TEXT NOT NULL,"
     " not_before_ms BIGINT NOT NULL,"
     " not_after_ms BIGINT NOT NULL,"
     " issued_ms BIGINT NOT NULL,"
     " status TEXT NOT NULL CHECK (status IN ('valid', 'suspended', 'revoked')),"
     " revoked_ms BIGINT,"
     " reason INTEGER,"
     " legal_cause TEXT,"
     " invalidity_ms BIGINT,"
     " hold_until_ms BIGINT,"
     " replaces TEXT,"
     " publish INTEGER NOT NULL DEFAULT 0,"
     " der {blob} NOT NULL);"
     "CREATE INDEX certificates_status ON certificates (issuer, status);"
     "CREATE INDEX certificates_spki ON certificates (spki_sha256);"
     "CREATE INDEX certificates_subject ON certificates (subject);"
     "CREATE INDEX certificates_subject_id ON certificates (subject_id);"
     /* Every lifecycle event, tied to the audit record that logged it. */
     "CREATE TABLE cert_events ("
     " audit_seq BIGINT PRIMARY KEY,"
     " serial TEXT NOT NULL REFERENCES certificates (serial),"
     " at_ms BIGINT NOT NULL,"
     " event TEXT NOT NULL,"
     " detail TEXT NOT NULL);"
     "CREATE INDEX cert_events_serial ON cert_events (serial);"
     /* The last CRL of each CA; crl_number only ever grows. */
     "CREATE TABLE crls ("
     " issuer TEXT PRIMARY KEY REFERENCES authorities (name),"
     " crl_number BIGINT NOT NULL,"
     " this_update_ms BIGINT NOT NULL,"
     " next_update_ms BIGINT NOT NULL,"
     " der {blob} NOT NULL);"
     /* Pre-signed OCSP responses. A lifecycle change deletes the row in its
      * own transaction, so the next query is answered from the new status. */
     "CREATE TABLE ocsp_responses ("
     " serial TEXT PRIMARY KEY REFERENCES certificates (serial),"
     " this_update_ms BIGINT NOT NULL,"
     " next_update_ms BIGINT NOT NULL,"
     " der {blob} NOT NULL);"},
    {3, "time-stamp tokens",
     /* One row per RFC 3161 token issued, committed before the token is sent:
      * the proof of what was stamped when. serial is upper-case hex, nonce
      * hex (NULL when the request had none), token_sha256 the hash of the
      * token's DER. */
     "CREATE TABLE tsa_tokens ("
     " serial TEXT PRIMARY KEY,"
     " at_ms BIGINT NOT NULL,"
     " policy TEXT NOT NULL,"
     " hash_alg TEXT NOT NULL,"
     " imprint {blob} NOT NULL,"
     " nonce TEXT,"
     " token_sha256 TEXT NOT NULL);"
     "CREATE INDEX tsa_tokens_at ON tsa_tokens (at_ms);"},
    {4, "users, API tokens and client certificates",
     /* The people and programs allowed to use the API, and their role. A
      * user is disabled, never deleted: the audit log names them. */
     "CREATE TABLE users ("
     " name TEXT PRIMARY KEY,"
     " role TEXT NOT NULL CHECK (role IN ('operator', 'approver', 'ca-admin', 'auditor')),"
     " disabled INTEGER NOT NULL DEFAULT 0,"
     " created_ms BIGINT NOT NULL);"
     /* token_hash is the hex SHA-256 of the token text; the token itself is
      * shown once and never stored. last4 lets a person tell tokens apart. */
     "CREATE TABLE api_tokens ("
     " id TEXT PRIMARY KEY,"
     " user_name TEXT NOT NULL REFERENCES users (name),"
     " token_hash TEXT NOT NULL UNIQUE,"
     " created_ms BIGINT NOT NULL,"
     " revoked_ms BIGINT,"
     " last4 TEXT NOT NULL);"
     "CREATE INDEX api_tokens_user ON api_tokens (user_name);"
     /* TLS client certificates, by the hex SHA-256 of their DER. */
     "CREATE TABLE client_certs ("
     " cert_sha256 TEXT PRIMARY KEY,"
     " user_name TEXT NOT NULL REFERENCES users (name),"
     " subject TEXT NOT NULL,"
     " created_ms BIGINT NOT NULL);"},
    {5, "hold expiry reason and delta CRLs",
     /* The RFC 5280 reason a hold becomes when it reaches hold_until_ms
      * without reinstatement; NULL: unspecified. */
     "ALTER TABLE certificates ADD COLUMN hold_expiry_reason INTEGER;"
     "CREATE INDEX certificates_hold ON certificates (status, hold_until_ms);"
     /* The last delta CRL of each CA (RFC 5280 5.2.4): its number comes from
      * the same sequence as crls.crl_number; base_crl_number names the
      * complete CRL (crl_bases) it updates. A lifecycle change sets next_update_ms to 0
      * (stale), as for crls. */
     "CREATE TABLE delta_crls ("
     " issuer TEXT PRIMARY KEY REFERENCES authorities (name),"
     " crl_number BIGINT NOT NULL,"
     " base_crl_number BIGINT NOT NULL,"
     " this_update_ms BIGINT NOT NULL,"
     " next_update_ms BIGINT NOT NULL,"
     " der {blob} NOT NULL);"
     /* The complete CRL each CA's delta CRLs are relative to: the last one
      * signed on schedule (or forced), not one re-signed after a change. */
     "CREATE TABLE crl_bases ("
     " issuer TEXT PRIMARY KEY REFERENCES authorities (name),"
     " crl_number BIGINT NOT NULL,"
     " der {blob} NOT NULL);"},
    {6, "drop the subject indexes no query can use",
     /* Searches by name or ID match anywhere in the text (LIKE '%...%'), which
      * no B-tree index serves; the two indexes only cost every issuance two
      * writes at random pages. */
     "DROP INDEX certificates_subject;"
     "DROP INDEX certificates_subject_id;"},
    {7, "index only the certificate events after issuance",
     /* Every certificate has an issuance event, at a random place in an index
      * on serial: one more page written per issuance, all over a big index.
      * The issuance is in the certificate's own row; the index now holds the
      * later events only (suspend, reinstate, revoke), which a certificate's
      * history reads. */
     "DROP INDEX cert_events_serial;"
     "CREATE INDEX cert_events_changes ON cert_events (serial) WHERE event <> 'issue';"},
    {8, "index only revoked and held certificates by issuer and by hold limit",
     /* The CRL reads an issuer's certificates that are not valid, and the
      * hold checks read the suspended ones: indexes over those few rows
      * serve both, where (issuer, status) and (status, hold_until_ms) held
      * every certificate. Without them the OCSP presign pass, which walks one
      * issuer's certificates in serial order, uses the serial index rather
      * than sorting all of the issuer's certificates for each batch. */
     "DROP INDEX certificates_status;"
     "DROP INDEX certificates_hold;"
     "CREATE INDEX certificates_not_valid ON certificates (issuer) WHERE status <> 'valid';"
     "CREATE INDEX certificates_held ON certificates (hold_until_ms) WHERE status = 'suspended';"},
    {9, "index certificates by issuance time",
     /* Listings (cert list, the API, the public repository) are newest first
      * a page at a time: with this index a page reads its own rows, not the
      * whole table sorted. Issuance appends to it, at its end. */
     "CREATE INDEX certificates_issued ON certificates (issued_ms);"},
    {10, "index stored OCSP answers by nextUpdate",
     /* Between full passes the pre-signer reads only the answers falling due,
      * in (nextUpdate, serial) order, instead of every certificate. */
     "CREATE INDEX ocsp_responses_due ON ocsp_responses (next_update_ms, serial);"},
};

const rb_migration *rb_schema_migrations(size_t *count)
{
    *count = sizeof(migrations) / sizeof(migrations[0]);
    return migrations;
}
