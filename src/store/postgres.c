/*
 * PostgreSQL back end (placeholder until the libpq implementation lands).
 */
#include "store/backend.h"

rb_status rb_postgres_open(const char *url, void **impl, const rb_store_ops **ops, rb_error *err)
{
    (void)url, (void)impl, (void)ops;
    return rb_fail(err, RB_ESTORE, NULL, "PostgreSQL support is not built yet");
}
