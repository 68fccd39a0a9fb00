/*
 * Private to src/tsa: the record writer. Token records are queued by the
 * threads that sign and committed by one writer thread in groups, one
 * transaction per group, so the cost of a durable commit (an fsync) is shared
 * by every token that arrived while the previous group was being written.
 */
#ifndef RB_TSA_RECORDS_H
#define RB_TSA_RECORDS_H

#include <openssl/ts.h>
#include <stddef.h>
#include <stdint.h>

#include "tsa/tsa.h"

#define TSA_SERIAL_BYTES 16 /* 128-bit random serials, top bit clear */
#define TSA_MAX_NONCE    64 /* bytes; longer nonces are refused as badDataFormat */
#define TSA_MAX_IMPRINT  64 /* SHA-512 */
#define TSA_MAX_POLICY   128

typedef struct tsa_record {
    struct tsa_record *next;
    char serial[2 * TSA_SERIAL_BYTES + 1]; /* upper-case hex */
    int64_t at_ms;
    char policy[TSA_MAX_POLICY];
    char hash_alg[32];
    uint8_t imprint[TSA_MAX_IMPRINT];
    size_t imprint_len;
    char nonce[2 * TSA_MAX_NONCE + 2]; /* hex, "-" when negative; empty when none */
    char token_sha256[65];
    rb_tsa_done_fn done;
    void *arg;
} tsa_record;

/*
 * Fills what rec keeps of a time-stamp request: the policy (when policy is not
 * NULL), the hash algorithm and imprint, and the nonce (when not NULL, at most
 * TSA_MAX_NONCE bytes: longer ones are refused before).
 */
void tsa_record_fill(tsa_record *rec, const ASN1_OBJECT *policy, TS_MSG_IMPRINT *imprint,
                     const ASN1_INTEGER *nonce);

typedef struct tsa_writer tsa_writer;

/* Opens a connection to db and starts the writer thread. */
rb_status tsa_writer_start(const char *db, tsa_writer **out, rb_error *err) RB_MUST_CHECK;

/* Queues rec (taking ownership); rec->done is called once it is committed or failed. */
void tsa_writer_submit(tsa_writer *w, tsa_record *rec);

/* Commits what is queued, stops the thread and frees w. NULL is a no-op. */
void tsa_writer_stop(tsa_writer *w);

#endif
