/*
 * Checkpoints for one SQLite connection, run on a thread of their own.
 *
 * In WAL mode every commit appends pages to the -wal file, and a checkpoint
 * copies them back into the database file and syncs it. SQLite's automatic
 * checkpoint does that inside the commit that crossed the threshold, so the
 * writer waits for the copy and the database fsync. Once the store holds
 * many certificates, each batch touches pages all over the serial and key
 * indexes and that wait grows with the store. Here the committing
 * connection only signals; a background thread with its own connection does
 * the checkpoint. Durability is unchanged: a commit is durable when the WAL
 * is synced, which still happens in the commit. Private to src/store.
 */
#ifndef RB_STORE_SQLITE_CHECKPOINT_H
#define RB_STORE_SQLITE_CHECKPOINT_H

#include <sqlite3.h>

typedef struct rb_sqlite_checkpointer rb_sqlite_checkpointer;

/* The thread's name, as top -H and /proc/PID/task/TID/comm show it. */
#define RB_SQLITE_CHECKPOINT_THREAD "rb-checkpoint"

/*
 * Replaces db's automatic checkpoint with one that signals a background
 * thread (started at the first checkpoint due) opened on path. Returns NULL
 * when out of memory; db then keeps SQLite's automatic checkpoint.
 */
rb_sqlite_checkpointer *rb_sqlite_checkpointer_attach(sqlite3 *db, const char *path);

/* Stops the thread, if one was started, after any checkpoint in progress; NULL is allowed. */
void rb_sqlite_checkpointer_free(rb_sqlite_checkpointer *ckpt);

#endif
