/*
 * The maintenance thread of `rubrica serve`: on a short period (and at the
 * moment the next hold reaches its limit) it turns holds past their limit
 * into revocations, re-signs each CA's complete and delta CRLs before their
 * nextUpdate or after a change, re-signs pre-signed OCSP responses that
 * are missing or about to expire, and every checkpoint interval has the TSA
 * time-stamp the audit log's head (audit/checkpoint.h). It has its own store connection; the HTTP
 * pool threads only read what it writes.
 */
#ifndef RB_HTTP_MAINTENANCE_H
#define RB_HTTP_MAINTENANCE_H

#include "core/context.h"
#include "core/error.h"
#include "keys/keys.h"
#include "ocsp/ocsp.h"
#include "tsa/tsa.h"

#define RB_MAINTENANCE_DEFAULT_INTERVAL_S 60
#define RB_MAINTENANCE_MAX_INTERVAL_S     86400
#define RB_CHECKPOINT_DEFAULT_INTERVAL_S  3600

/* What one pass did. */
typedef struct rb_maintenance_report {
    int crls_signed;     /* complete and delta CRLs */
    int holds_converted; /* by the catch-all sweep (CRL signing converts its CA's own) */
    size_t ocsp_signed;  /* pre-signed OCSP responses stored */
    int checkpoints;     /* signed audit checkpoints made (0 or 1) */
} rb_maintenance_report;

/* The audit checkpoints a pass makes: with tsa, one once interval_ms has passed. */
typedef struct rb_maintenance_checkpoints {
    rb_tsa *tsa; /* NULL: none */
    int64_t interval_ms;
} rb_maintenance_checkpoints;

/*
 * One pass with ctx: CRLs of every CA (each signing converts that CA's
 * expired holds in its own transaction), then any hold still past its limit
 * (a CA whose key is unavailable), then OCSP pre-signing when ocsp is not
 * NULL (of what changed since presign's position, or of everything when
 * presign is NULL), then an audit checkpoint when checkpoints (may be NULL)
 * has a TSA and one is due. Every step is attempted; the first failure is
 * returned in err.
 */
rb_status rb_maintenance_pass(rb_ctx *ctx, const rb_key_secret *secret,
                              const rb_ocsp_responder *ocsp, rb_ocsp_presign_cursor *presign,
                              const rb_maintenance_checkpoints *checkpoints,
                              rb_maintenance_report *report, rb_error *err) RB_MUST_CHECK;

typedef struct rb_maintenance_config {
    const char *db;       /* the store location the thread connects to */
    const char *data_dir; /* for its rb_ctx */
    rb_clock clock;
    const rb_key_secret *secret;            /* unlocks the CA keys; must outlive the thread */
    const rb_ocsp_responder *ocsp;          /* NULL: no OCSP pre-signing; must outlive the thread */
    unsigned interval_s;                    /* 0: RB_MAINTENANCE_DEFAULT_INTERVAL_S */
    rb_maintenance_checkpoints checkpoints; /* its TSA must outlive the thread */
} rb_maintenance_config;

typedef struct rb_maintenance rb_maintenance;

/* Connects to the store and starts the thread (cfg is copied). Stop with rb_maintenance_stop. */
rb_status rb_maintenance_start(const rb_maintenance_config *cfg, rb_maintenance **out,
                               rb_error *err) RB_MUST_CHECK;

/* Wakes the thread, waits for its pass in progress to end, closes its store. NULL is a no-op. */
void rb_maintenance_stop(rb_maintenance *m);

#endif
