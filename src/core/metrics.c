/*
 * The counters behind rb_metrics_add: one relaxed atomic each, since readers
 * only need an eventually consistent total.
 */
#include "core/metrics.h"

#include <stdatomic.h>

static _Atomic uint64_t counters[RB_METRIC_COUNT];

static const struct {
    const char *name, *help;
} described[RB_METRIC_COUNT] = {
    [RB_METRIC_CERTS_ISSUED] = {"rubrica_certificates_issued_total", "Certificates issued."},
    [RB_METRIC_CERTS_REVOKED] = {"rubrica_certificates_revoked_total", "Certificates revoked."},
    [RB_METRIC_CERTS_SUSPENDED] = {"rubrica_certificates_suspended_total",
                                   "Certificates suspended."},
    [RB_METRIC_OCSP_RESPONSES] = {"rubrica_ocsp_responses_total", "OCSP responses sent."},
    [RB_METRIC_CRLS_ISSUED] = {"rubrica_crls_issued_total", "CRLs signed."},
    [RB_METRIC_TSA_TOKENS] = {"rubrica_tsa_tokens_total", "Time-stamp tokens issued."},
    [RB_METRIC_TSA_REJECTIONS] = {"rubrica_tsa_rejections_total", "Time-stamp requests rejected."},
    [RB_METRIC_TSA_COMMITS] = {"rubrica_tsa_record_commits_total",
                               "Transactions that recorded time-stamp tokens (tokens per "
                               "commit is the group size)."},
};

void rb_metrics_add(rb_metric metric, uint64_t n)
{
    if ((unsigned)metric < RB_METRIC_COUNT)
        atomic_fetch_add_explicit(&counters[metric], n, memory_order_relaxed);
}

uint64_t rb_metrics_get(rb_metric metric)
{
    if ((unsigned)metric >= RB_METRIC_COUNT)
        return 0;
    return atomic_load_explicit(&counters[metric], memory_order_relaxed);
}

const char *rb_metric_name(rb_metric metric)
{
    return (unsigned)metric < RB_METRIC_COUNT ? described[metric].name : "";
}

const char *rb_metric_help(rb_metric metric)
{
    return (unsigned)metric < RB_METRIC_COUNT ? described[metric].help : "";
}
