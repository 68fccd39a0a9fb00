/*
 * Background checkpoints for a SQLite connection in WAL mode (see
 * sqlite_checkpoint.h). The WAL hook runs after every commit with the WAL's
 * length: past SIGNAL_PAGES it wakes the thread, which runs a PASSIVE
 * checkpoint on its own connection, so neither readers nor the writer ever
 * wait for it. Should the thread fall behind or be unable to start, the
 * committing connection checkpoints in line once the WAL reaches
 * CEILING_PAGES, so the file cannot grow without bound.
 */
#include "store/sqlite_checkpoint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    SIGNAL_PAGES = 1000,   /* SQLite's own automatic-checkpoint threshold */
    CEILING_PAGES = 32768, /* 128 MiB of 4 KiB pages */
};

struct rb_sqlite_checkpointer {
    char *path;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int started; /* the thread exists */
    int failed;  /* it could not be started or could not open the file */
    int pending; /* a checkpoint is due */
    int stop;
};

static sqlite3 *open_own_connection(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close_v2(db);
        return NULL;
    }
    return db;
}

static void *checkpoint_loop(void *arg)
{
    rb_sqlite_checkpointer *ckpt = arg;
    pthread_setname_np(pthread_self(), RB_SQLITE_CHECKPOINT_THREAD);
    sqlite3 *db = open_own_connection(ckpt->path);
    pthread_mutex_lock(&ckpt->lock);
    if (db == NULL)
        ckpt->failed = 1;
    while (db != NULL && !ckpt->stop) {
        if (!ckpt->pending) {
            pthread_cond_wait(&ckpt->wake, &ckpt->lock);
            continue;
        }
        ckpt->pending = 0;
        pthread_mutex_unlock(&ckpt->lock);
        /* SQLITE_BUSY (another checkpoint under way) only means it is being done. */
        sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&ckpt->lock);
    }
    pthread_mutex_unlock(&ckpt->lock);
    sqlite3_close_v2(db);
    return NULL;
}

/* Wakes the thread, starting it the first time; 0 when the caller must checkpoint itself. */
static int signal_thread(rb_sqlite_checkpointer *ckpt)
{
    pthread_mutex_lock(&ckpt->lock);
    if (!ckpt->started && !ckpt->failed) {
        if (pthread_create(&ckpt->thread, NULL, checkpoint_loop, ckpt) == 0)
            ckpt->started = 1;
        else
            ckpt->failed = 1;
    }
    int delegated = ckpt->started && !ckpt->failed;
    if (delegated) {
        ckpt->pending = 1;
        pthread_cond_signal(&ckpt->wake);
    }
    pthread_mutex_unlock(&ckpt->lock);
    return delegated;
}

static int after_commit(void *arg, sqlite3 *db, const char *schema, int wal_pages)
{
    rb_sqlite_checkpointer *ckpt = arg;
    if (wal_pages < SIGNAL_PAGES)
        return SQLITE_OK;
    if (!signal_thread(ckpt) || wal_pages >= CEILING_PAGES)
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

rb_sqlite_checkpointer *rb_sqlite_checkpointer_attach(sqlite3 *db, const char *path)
{
    rb_sqlite_checkpointer *ckpt = calloc(1, sizeof(*ckpt));
    if (ckpt == NULL || (ckpt->path = strdup(path)) == NULL) {
        free(ckpt);
        return NULL;
    }
    pthread_mutex_init(&ckpt->lock, NULL);
    pthread_cond_init(&ckpt->wake, NULL);
    sqlite3_wal_hook(db, after_commit, ckpt);
    return ckpt;
}

void rb_sqlite_checkpointer_free(rb_sqlite_checkpointer *ckpt)
{
    if (ckpt == NULL)
        return;
    pthread_mutex_lock(&ckpt->lock);
    ckpt->stop = 1;
    pthread_cond_signal(&ckpt->wake);
    int started = ckpt->started;
    pthread_mutex_unlock(&ckpt->lock);
    if (started)
        pthread_join(ckpt->thread, NULL);
    pthread_cond_destroy(&ckpt->wake);
    pthread_mutex_destroy(&ckpt->lock);
    free(ckpt->path);
    free(ckpt);
}
