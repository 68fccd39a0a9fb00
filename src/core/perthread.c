/*
 * Per-thread values: a pthread key finds the calling thread's value quickly,
 * and a list under a mutex remembers every value made so the owner can free
 * them from one thread once the pool is gone (pool threads may exit before
 * or after that, so the key has no destructor of its own).
 */
#include "core/perthread.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct entry {
    void *value;
    struct entry *next;
} entry;

struct rb_perthread {
    pthread_key_t key;
    pthread_mutex_t lock;
    entry *all;
    rb_perthread_make_fn make;
    rb_perthread_free_fn destroy;
    void *arg;
};

rb_status rb_perthread_new(rb_perthread_make_fn make, rb_perthread_free_fn destroy, void *arg,
                           rb_perthread **out, rb_error *err)
{
    rb_perthread *pt = calloc(1, sizeof(*pt));
    if (pt == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (pthread_key_create(&pt->key, NULL) != 0) {
        free(pt);
        return rb_fail(err, RB_EINTERNAL, NULL, "no thread-specific key left");
    }
    pthread_mutex_init(&pt->lock, NULL);
    pt->make = make;
    pt->destroy = destroy;
    pt->arg = arg;
    *out = pt;
    return RB_OK;
}

rb_status rb_perthread_get(rb_perthread *pt, void **out, rb_error *err)
{
    void *value = pthread_getspecific(pt->key);
    if (value != NULL) {
        *out = value;
        return RB_OK;
    }
    entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    value = pt->make(pt->arg, err);
    if (value == NULL) {
        free(e);
        return err && err->status != RB_OK ? err->status : RB_EINTERNAL;
    }
    if (pthread_setspecific(pt->key, value) != 0) {
        pt->destroy(value);
        free(e);
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    }
    e->value = value;
    pthread_mutex_lock(&pt->lock);
    e->next = pt->all;
    pt->all = e;
    pthread_mutex_unlock(&pt->lock);
    *out = value;
    return RB_OK;
}

void rb_perthread_free(rb_perthread *pt)
{
    if (pt == NULL)
        return;
    entry *e = pt->all;
    while (e != NULL) {
        entry *next = e->next;
        pt->destroy(e->value);
        free(e);
        e = next;
    }
    pthread_key_delete(pt->key);
    pthread_mutex_destroy(&pt->lock);
    free(pt);
}
