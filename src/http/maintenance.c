/*
 * The maintenance thread of `rubrica serve` (see maintenance.h): a loop that
 * runs one pass, then sleeps until the period ends or the next hold reaches
 * its limit, whichever comes first. Everything it does goes through the
 * library (ca/crl.h, ca/ca.h, ocsp/ocsp.h); a failed pass is logged and the
 * next one tries again.
 */
#include "http/maintenance.h"

#include "core/wait.h"
#include "audit/checkpoint.h"
#include "ca/crl.h"
#include "core/log.h"
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A hold's limit is acted on this soon after it passes, and the thread never spins faster. */
#define MIN_WAIT_MS 200

struct rb_maintenance {
    rb_maintenance_config cfg;
    char *db, *data_dir; /* owned copies of cfg's strings */
    rb_ctx ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    rb_ocsp_presign_cursor presign; /* how far OCSP pre-signing has looked */
};

static void keep_first(rb_error *first, const rb_error *err, rb_status s)
{
    if (s != RB_OK && first->status == RB_OK)
        *first = *err;
}

rb_status rb_maintenance_pass(rb_ctx *ctx, const rb_key_secret *secret,
                              const rb_ocsp_responder *ocsp, rb_ocsp_presign_cursor *presign,
                              const rb_maintenance_checkpoints *checkpoints,
                              rb_maintenance_report *report, rb_error *err)
{
    rb_error first = {0}, step = {0};
    memset(report, 0, sizeof(*report));
    rb_status s = rb_ca_crl_refresh_all(ctx, secret, &report->crls_signed, &step);
    keep_first(&first, &step, s);
    s = rb_ca_expire_holds(ctx, &report->holds_converted, &step);
    keep_first(&first, &step, s);
    if (ocsp != NULL) {
        s = presign ? rb_ocsp_presign_since(ocsp, ctx, 0, presign, &report->ocsp_signed, &step)
                    : rb_ocsp_presign_all(ocsp, ctx, 0, &report->ocsp_signed, &step);
        keep_first(&first, &step, s);
    }
    if (checkpoints != NULL && checkpoints->tsa != NULL) {
        s = rb_audit_checkpoint_if_due(ctx, checkpoints->tsa, checkpoints->interval_ms,
                                       &report->checkpoints, &step);
        keep_first(&first, &step, s);
    }
    if (first.status != RB_OK) {
        *err = first;
        return first.status;
    }
    return RB_OK;
}

/* Milliseconds to sleep: the period, or less when a hold reaches its limit sooner. */
static int64_t next_wait_ms(rb_maintenance *m)
{
    int64_t wait = (int64_t)m->cfg.interval_s * 1000, limit = 0;
    rb_error err = {0};
    if (rb_ca_next_hold_limit(&m->ctx, &limit, &err) == RB_OK && limit > 0) {
        int64_t until = limit - rb_ctx_now_ms(&m->ctx) + 1;
        if (until < wait)
            wait = until;
    }
    return wait < MIN_WAIT_MS ? MIN_WAIT_MS : wait;
}

static void run_pass(rb_maintenance *m)
{
    rb_error err = {0};
    rb_maintenance_report r;
    if (m->ctx.store == NULL && rb_store_open(m->db, &m->ctx.store, &err) != RB_OK) {
        rb_log(RB_LOG_WARN, "maintenance: cannot open the store: %s", err.message);
        return;
    }
    rb_status s = rb_maintenance_pass(&m->ctx, m->cfg.secret, m->cfg.ocsp, &m->presign,
                                      &m->cfg.checkpoints, &r, &err);
    if (r.crls_signed || r.holds_converted || r.ocsp_signed || r.checkpoints)
        rb_log(RB_LOG_INFO,
               "maintenance: %d CRLs signed, %d expired holds revoked, %zu OCSP responses "
               "pre-signed, %d audit checkpoints",
               r.crls_signed, r.holds_converted, r.ocsp_signed, r.checkpoints);
    if (s == RB_OK)
        return;
    rb_log(RB_LOG_WARN, "maintenance: %s", err.message);
    if (s == RB_ESTORE) { /* a lost connection: start afresh next time */
        rb_store_close(m->ctx.store);
        m->ctx.store = NULL;
    }
}

static void *thread_main(void *arg)
{
    rb_maintenance *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        run_pass(m);
        int64_t wait = m->ctx.store ? next_wait_ms(m) : (int64_t)m->cfg.interval_s * 1000;
        struct timespec until = rb_monotonic_after(NULL, wait * 1000);
        pthread_mutex_lock(&m->lock);
        int timed_out = 0;
        while (!m->stopping && !timed_out)
            timed_out = pthread_cond_timedwait(&m->wake, &m->lock, &until) != 0;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void maintenance_free(rb_maintenance *m)
{
    rb_store_close(m->ctx.store);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m->db);
    free(m->data_dir);
    free(m);
}

rb_status rb_maintenance_start(const rb_maintenance_config *cfg, rb_maintenance **out,
                               rb_error *err)
{
    rb_maintenance *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    m->cfg = *cfg;
    if (m->cfg.interval_s == 0)
        m->cfg.interval_s = RB_MAINTENANCE_DEFAULT_INTERVAL_S;
    m->db = cfg->db ? strdup(cfg->db) : NULL;
    m->data_dir = cfg->data_dir ? strdup(cfg->data_dir) : NULL;
    pthread_mutex_init(&m->lock, NULL);
    rb_cond_init_monotonic(&m->wake);
    m->ctx.clock = cfg->clock;
    m->ctx.actor = "serve:maintenance";
    m->ctx.data_dir = m->data_dir;
    rb_status s = m->db && (m->data_dir || !cfg->data_dir)
                      ? rb_store_open(m->db, &m->ctx.store, err)
                      : rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (s == RB_OK && pthread_create(&m->thread, NULL, thread_main, m) != 0)
        s = rb_fail(err, RB_EINTERNAL, NULL, "cannot start the maintenance thread");
    if (s != RB_OK) {
        maintenance_free(m);
        return s;
    }
    *out = m;
    return RB_OK;
}

void rb_maintenance_stop(rb_maintenance *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    maintenance_free(m);
}
