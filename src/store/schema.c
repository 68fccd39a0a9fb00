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
};

const rb_migration *rb_schema_migrations(size_t *count)
{
    *count = sizeof(migrations) / sizeof(migrations[0]);
    return migrations;
}
