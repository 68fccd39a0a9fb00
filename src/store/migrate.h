/*
 * Versioned schema migrations. Each migration has a number and a name and is
 * never edited once released: a change to the schema is a new migration at
 * the end of the list in schema.c. Migrations run in one transaction, under a
 * lock, so two processes starting together apply each exactly once.
 */
#ifndef RB_STORE_MIGRATE_H
#define RB_STORE_MIGRATE_H

#include "core/clock.h"
#include "store/store.h"

typedef struct rb_migration {
    int version;
    const char *name;
    const char *sql; /* PostgreSQL-style SQL with dialect tokens */
} rb_migration;

/* The built-in list, in version order; *count receives its length. */
const rb_migration *rb_schema_migrations(size_t *count);

typedef struct rb_migration_status {
    int version;
    const char *name;
    int applied;
    int64_t applied_ms; /* 0 when pending */
} rb_migration_status;

/*
 * Applies every pending migration. *applied (may be NULL) receives how many
 * ran. A store whose schema is newer than this program is refused.
 */
rb_status rb_store_migrate(rb_store *store, const rb_clock *clock, int *applied,
                           rb_error *err) RB_MUST_CHECK;

/*
 * Fills out (caller-allocated, one entry per built-in migration, see
 * rb_schema_migrations) with what is applied.
 */
rb_status rb_store_schema_status(rb_store *store, rb_migration_status *out,
                                 rb_error *err) RB_MUST_CHECK;

#endif
