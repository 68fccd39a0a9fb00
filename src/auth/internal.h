/*
 * Shared inside src/auth: reading a user from a result row.
 */
#ifndef RB_AUTH_INTERNAL_H
#define RB_AUTH_INTERNAL_H

#include "auth/auth.h"
#include "store/store.h"

/* The columns every user query selects first, in this order. */
#define AUTH_USER_COLUMNS "u.name, u.role, u.disabled, u.created_ms"

/* A user from columns 0-3 of stmt's current row (AUTH_USER_COLUMNS). */
rb_status auth_read_user(rb_stmt *stmt, rb_user *out, rb_error *err) RB_MUST_CHECK;

#endif
