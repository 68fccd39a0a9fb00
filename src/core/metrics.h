/*
 * Process-wide operation counters for monitoring (Prometheus counters are
 * per process by definition). Any module bumps them with rb_metrics_add; the
 * HTTP server publishes them at /metrics. Lock-free (C11 atomics). This is the
 * library's one piece of global mutable state, and it only ever counts up.
 */
#ifndef RB_CORE_METRICS_H
#define RB_CORE_METRICS_H

#include <stdint.h>

typedef enum rb_metric {
    RB_METRIC_CERTS_ISSUED,
    RB_METRIC_CERTS_REVOKED,
    RB_METRIC_CERTS_SUSPENDED,
    RB_METRIC_OCSP_RESPONSES,
    RB_METRIC_CRLS_ISSUED,
    RB_METRIC_TSA_TOKENS,
    RB_METRIC_TSA_REJECTIONS,
    RB_METRIC_TSA_COMMITS,
    RB_METRIC_COUNT
} rb_metric;

void rb_metrics_add(rb_metric metric, uint64_t n);
uint64_t rb_metrics_get(rb_metric metric);
/* Prometheus name ("rubrica_tsa_tokens_total") and help text of a metric. */
const char *rb_metric_name(rb_metric metric);
const char *rb_metric_help(rb_metric metric);

#endif
