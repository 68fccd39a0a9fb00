/*
 * The TSA's record writer: group commit of token records.
 *
 * Durability: the law asks for a record of every token, so a token leaves
 * only after its record is committed (fsync'd). Committing each token on its
 * own would cap us at one token per fsync; instead signing threads queue
 * records here and one writer thread commits whatever has queued up in one
 * transaction, then tells each waiter. While a group is being written the next
 * one gathers, so under load a group holds about (rate x commit time) tokens,
 * and an idle TSA commits a lone token at once. Under load (the last group
 * held more than one token) a commit also waits until GATHER_US after the
 * previous one began: each commit costs CPU the signing threads need, and
 * with fast disks groups would otherwise stay tiny.
 */
#include "tsa/records.h"

#include "core/wait.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/store.h"

#include "core/hex.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GATHER_US 1000

struct tsa_writer {
    rb_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    tsa_record *head, *tail;
    int stopping;
    size_t last_group;           /* tokens in the previous commit */
    struct timespec last_commit; /* when it began (CLOCK_MONOTONIC) */
};

static rb_status insert_record(rb_store *store, const tsa_record *r, rb_error *err)
{
    rb_stmt *stmt = NULL;
    int has_row = 0;
    rb_status s = rb_store_prepare(
        store,
        "INSERT INTO tsa_tokens (serial, at_ms, policy, hash_alg, imprint, nonce, token_sha256) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (serial) DO NOTHING RETURNING serial",
        &stmt, err);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 1, r->serial);
    if (s == RB_OK)
        s = rb_stmt_bind_int64(stmt, 2, r->at_ms);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 3, r->policy);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 4, r->hash_alg);
    if (s == RB_OK)
        s = rb_stmt_bind_blob(stmt, 5, r->imprint, r->imprint_len);
    if (s == RB_OK)
        s = r->nonce[0] ? rb_stmt_bind_text(stmt, 6, r->nonce) : rb_stmt_bind_null(stmt, 6);
    if (s == RB_OK)
        s = rb_stmt_bind_text(stmt, 7, r->token_sha256);
    if (s == RB_OK)
        s = rb_stmt_step(stmt, &has_row, err);
    rb_stmt_reset(stmt);
    if (s == RB_OK && !has_row)
        s = rb_fail(err, RB_ECONFLICT, NULL, "time-stamp serial %s was issued before", r->serial);
    return s;
}

/*
 * Writes one group. Only a serial collision (128 random bits: not expected in
 * the life of the universe, but checked) fails a single record; any other
 * failure fails the whole group, which is rolled back.
 */
static rb_status write_group(rb_store *store, tsa_record *group)
{
    rb_error err = {0};
    rb_status s = rb_store_begin(store, &err);
    for (tsa_record *r = group; s == RB_OK && r != NULL; r = r->next) {
        rb_error one = {0};
        rb_status rs = insert_record(store, r, &one);
        if (rs == RB_ECONFLICT) {
            r->done(r->arg, rs);
            r->done = NULL;
        } else if (rs != RB_OK) {
            s = rs;
            err = one;
        }
    }
    if (s == RB_OK)
        s = rb_store_commit(store, &err);
    else
        rb_store_rollback(store);
    if (s != RB_OK) {
        char text[1400];
        rb_log(RB_LOG_ERROR, "tsa: could not record time-stamp tokens: %s",
               rb_error_format(&err, text, sizeof(text)));
    }
    return s;
}

/* With the lock held: under load, lets the group gather until GATHER_US after the last commit. */
static void gather(tsa_writer *w)
{
    if (w->last_group <= 1)
        return;
    struct timespec until = rb_monotonic_after(&w->last_commit, GATHER_US);
    while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
        ; /* woken by a stop or a spurious wake-up; submissions meanwhile do not signal */
}

static void *writer_main(void *arg)
{
    tsa_writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        gather(w);
        tsa_record *group = w->head;
        w->head = w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        if (group == NULL)
            break; /* stopping, and nothing left */
        clock_gettime(CLOCK_MONOTONIC, &w->last_commit);
        w->last_group = 0;
        for (const tsa_record *r = group; r != NULL; r = r->next)
            w->last_group++;
        rb_status s = write_group(w->store, group);
        uint64_t recorded = 0;
        while (group != NULL) {
            tsa_record *next = group->next;
            if (group->done != NULL) {
                recorded += s == RB_OK;
                group->done(group->arg, s);
            }
            free(group);
            group = next;
        }
        if (s == RB_OK) {
            rb_metrics_add(RB_METRIC_TSA_TOKENS, recorded);
            rb_metrics_add(RB_METRIC_TSA_COMMITS, 1);
        }
    }
    return NULL;
}

rb_status tsa_writer_start(const char *db, tsa_writer **out, rb_error *err)
{
    tsa_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    rb_status s = rb_store_open(db, &w->store, err);
    if (s != RB_OK) {
        free(w);
        return s;
    }
    pthread_mutex_init(&w->lock, NULL);
    rb_cond_init_monotonic(&w->wake);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        rb_store_close(w->store);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
        return rb_fail(err, RB_EINTERNAL, NULL, "could not start the time-stamp record writer");
    }
    *out = w;
    return RB_OK;
}

void tsa_writer_submit(tsa_writer *w, tsa_record *rec)
{
    rec->next = NULL;
    pthread_mutex_lock(&w->lock);
    int was_empty = w->tail == NULL;
    if (was_empty)
        w->head = rec;
    else
        w->tail->next = rec;
    w->tail = rec;
    if (was_empty) /* otherwise the writer is awake already, or gathering on purpose */
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void tsa_writer_stop(tsa_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    rb_store_close(w->store);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
}

void tsa_record_fill(tsa_record *rec, const ASN1_OBJECT *policy, TS_MSG_IMPRINT *imprint,
                     const ASN1_INTEGER *nonce)
{
    if (policy != NULL)
        OBJ_obj2txt(rec->policy, sizeof(rec->policy), policy, 1);
    const ASN1_OBJECT *alg;
    X509_ALGOR_get0(&alg, NULL, NULL, TS_MSG_IMPRINT_get_algo(imprint));
    OBJ_obj2txt(rec->hash_alg, sizeof(rec->hash_alg), alg, 0);
    const ASN1_OCTET_STRING *digest = TS_MSG_IMPRINT_get_msg(imprint);
    rec->imprint_len = (size_t)ASN1_STRING_length(digest);
    if (rec->imprint_len > sizeof(rec->imprint))
        rec->imprint_len = sizeof(rec->imprint); /* cannot happen: only SHA-2 is accepted */
    memcpy(rec->imprint, ASN1_STRING_get0_data(digest), rec->imprint_len);
    if (nonce != NULL) {
        int negative = ASN1_STRING_type(nonce) == V_ASN1_NEG_INTEGER;
        rec->nonce[0] = '-';
        rb_hex_upper(ASN1_STRING_get0_data(nonce), (size_t)ASN1_STRING_length(nonce),
                     rec->nonce + negative);
    }
}
