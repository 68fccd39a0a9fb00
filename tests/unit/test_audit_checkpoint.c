/*
 * Signed audit checkpoints on a throwaway SQLite provider with a fixed
 * clock: when one is due (the interval, and something new logged besides
 * the last checkpoint's own record), that the token's time is the clock's,
 * and that rb_audit_checkpoint_check_token refuses a token for another hash,
 * from an authority that is not a TSA, or, with pinned certificates, one
 * that is not among them. (tests/integration/
 * audit_checkpoint.sh checks tokens with openssl and tampered stores.)
 */
#include "fixture.h"
#include "harness.h"

#include "audit/checkpoint.h"
#include "ca/ca.h"
#include "ca/init.h"
#include "store/migrate.h"
#include "store/store.h"

#include <stdlib.h>

#define T0     1795000000000LL /* whole seconds: a token's genTime is kept to the second */
#define HOUR   3600000LL
#define MINUTE 60000LL

typedef struct provider {
    rb_ctx ctx;
    rb_tsa *tsa;
    char db[600];
} provider;

static int open_provider(provider *p)
{
    rb_error err = {0};
    memset(p, 0, sizeof(*p));
    if (!test_provider_open(&p->ctx, T0, p->db, sizeof(p->db)))
        return 0;
    p->ctx.actor = "test:checkpoint";
    rb_tsa_config cfg = {.db = p->db, .policy = RB_TSA_DEFAULT_POLICY};
    if (rb_tsa_new_from_store(&cfg, &p->ctx, NULL, &p->tsa, &err) != RB_OK) {
        fprintf(stderr, "  %s\n", err.message);
        return 0;
    }
    return 1;
}

static void close_provider(provider *p)
{
    rb_tsa_free(p->tsa);
    rb_store_close(p->ctx.store);
}

static void log_note(provider *p)
{
    rb_error err = {0};
    CHECK(rb_store_begin(p->ctx.store, &err) == RB_OK);
    CHECK(rb_audit_append(&p->ctx, "test.note", "x", NULL, NULL, &err) == RB_OK);
    CHECK(rb_store_commit(p->ctx.store, &err) == RB_OK);
}

TEST(audit_checkpoint_due_after_interval_and_news)
{
    provider p;
    REQUIRE(open_provider(&p));
    rb_error err = {0};
    int made = -1;
    /* No checkpoint yet and init's records: due at once. */
    CHECK(rb_audit_checkpoint_if_due(&p.ctx, p.tsa, HOUR, &made, &err) == RB_OK && made == 1);
    /* Only its own audit.checkpoint record since: nothing new, even much later. */
    p.ctx.clock.fixed_ms = T0 + 5 * HOUR;
    CHECK(rb_audit_checkpoint_if_due(&p.ctx, p.tsa, HOUR, &made, &err) == RB_OK && made == 0);
    /* Something new, but within the interval of the last checkpoint: not yet. */
    p.ctx.clock.fixed_ms = T0 + 30 * MINUTE;
    log_note(&p);
    CHECK(rb_audit_checkpoint_if_due(&p.ctx, p.tsa, HOUR, &made, &err) == RB_OK && made == 0);
    /* Past the interval: due. */
    p.ctx.clock.fixed_ms = T0 + HOUR + MINUTE;
    CHECK(rb_audit_checkpoint_if_due(&p.ctx, p.tsa, HOUR, &made, &err) == RB_OK && made == 1);
    rb_audit_report report = {0};
    CHECK(rb_audit_verify_with_checkpoints(&p.ctx, NULL, &report, &err) == RB_OK);
    CHECK(report.problem == RB_AUDIT_OK);
    CHECK(report.checkpoints == 2);
    CHECK(report.checkpoint_ms == T0 + HOUR + MINUTE); /* the token's time is the clock's */
    close_provider(&p);
}

typedef struct first_checkpoint {
    rb_audit_checkpoint cp;
    int seen;
} first_checkpoint;

static int keep_first(const rb_audit_checkpoint *cp, void *arg)
{
    first_checkpoint *f = arg;
    f->cp = *cp;
    f->cp.token = malloc(cp->token_len);
    if (f->cp.token != NULL)
        memcpy(f->cp.token, cp->token, cp->token_len);
    f->seen = f->cp.token != NULL;
    return 1;
}

TEST(audit_checkpoint_token_checks)
{
    provider p;
    REQUIRE(open_provider(&p));
    rb_error err = {0};
    int made = 0;
    first_checkpoint first = {0};
    REQUIRE(rb_audit_checkpoint_make(&p.ctx, p.tsa, &made, NULL, &err) == RB_OK && made == 1);
    REQUIRE(rb_audit_checkpoint_list(&p.ctx, keep_first, &first, &err) == RB_OK && first.seen);
    const rb_audit_checkpoint *cp = &first.cp;
    int64_t at = 0;
    CHECK(rb_audit_checkpoint_check_token(&p.ctx, cp->signer, NULL, cp->token, cp->token_len,
                                          cp->head_hash, &at, &err) == RB_OK);
    CHECK(at == T0);
    uint8_t other[RB_AUDIT_HASH_LEN];
    memcpy(other, cp->head_hash, sizeof(other));
    other[0] ^= 1;
    CHECK(rb_audit_checkpoint_check_token(&p.ctx, cp->signer, NULL, cp->token, cp->token_len, other,
                                          NULL, &err) != RB_OK);
    /* The issuing CA is not a TSA: no such signer. */
    CHECK(rb_audit_checkpoint_check_token(&p.ctx, "issuing", NULL, cp->token, cp->token_len,
                                          cp->head_hash, NULL, &err) != RB_OK);
    /* Pinned certificates: the TSA's own passes, the issuing CA's alone does not. */
    rb_authority *tsa = NULL, *issuing = NULL;
    REQUIRE(rb_authority_load(&p.ctx, NULL, RB_ROLE_TSA, 0, NULL, &tsa, &err) == RB_OK);
    REQUIRE(rb_authority_load(&p.ctx, NULL, RB_ROLE_ISSUING, 0, NULL, &issuing, &err) == RB_OK);
    STACK_OF(X509) *pinned = sk_X509_new_null();
    REQUIRE(pinned != NULL && sk_X509_push(pinned, tsa->cert));
    CHECK(rb_audit_checkpoint_check_token(&p.ctx, cp->signer, pinned, cp->token, cp->token_len,
                                          cp->head_hash, NULL, &err) == RB_OK);
    sk_X509_set(pinned, 0, issuing->cert);
    CHECK(rb_audit_checkpoint_check_token(&p.ctx, cp->signer, pinned, cp->token, cp->token_len,
                                          cp->head_hash, NULL, &err) != RB_OK);
    sk_X509_free(pinned);
    rb_authority_free(tsa);
    rb_authority_free(issuing);
    /* A token cut short is not a token. */
    CHECK(rb_audit_checkpoint_check_token(&p.ctx, cp->signer, NULL, cp->token, cp->token_len / 2,
                                          cp->head_hash, NULL, &err) != RB_OK);
    rb_audit_checkpoint_clear(&first.cp);
    close_provider(&p);
}
