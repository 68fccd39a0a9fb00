/*
 * The in-memory copy of ocsp_responses for the hottest path: a fixed table of
 * pre-signed answers keyed by issuer and serial, each tagged with the store's
 * change counter read before the row was. An entry is served only while the
 * counter has not moved, so a revocation committed by any process (which
 * deletes the row, and moves the counter) is seen by the very next query.
 */
#include "ocsp/internal.h"

#include <stdlib.h>
#include <string.h>

/* A power of two. Colliding serials evict each other; the store still has both. */
#define HOT_SLOTS 4096

struct ocsp_hot_entry {
    const ocsp_issuer *issuer; /* NULL: empty */
    char serial[41];
    uint64_t counter;
    int64_t this_ms, next_ms;
    uint8_t *der;
    size_t len, cap;
};

rb_status ocsp_hot_init(rb_ocsp_responder *r)
{
    r->hot = calloc(HOT_SLOTS, sizeof(*r->hot));
    if (r->hot == NULL)
        return RB_ENOMEM;
    pthread_mutex_init(&r->hot_lock, NULL);
    return RB_OK;
}

void ocsp_hot_free(rb_ocsp_responder *r)
{
    if (r->hot == NULL)
        return;
    for (size_t i = 0; i < HOT_SLOTS; i++)
        free(r->hot[i].der);
    free(r->hot);
    r->hot = NULL;
    pthread_mutex_destroy(&r->hot_lock);
}

static ocsp_hot_entry *slot_of(const rb_ocsp_responder *r, const char *serial)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = serial; *c != '\0'; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    return &r->hot[h & (HOT_SLOTS - 1)];
}

int ocsp_hot_get(const rb_ocsp_responder *r, const ocsp_issuer *issuer, const char *serial,
                 uint64_t counter, int64_t now, rb_ocsp_answer *out)
{
    if (r->hot == NULL || counter == 0)
        return 0;
    ocsp_hot_entry *e = slot_of(r, serial);
    pthread_mutex_t *lock = (pthread_mutex_t *)&r->hot_lock;
    pthread_mutex_lock(lock);
    int hit = e->issuer == issuer && e->counter == counter && e->next_ms > now &&
              strcmp(e->serial, serial) == 0;
    uint8_t *copy = hit ? malloc(e->len) : NULL;
    if (copy != NULL) {
        memcpy(copy, e->der, e->len);
        out->der = copy;
        out->der_len = e->len;
        out->produced_ms = out->this_update_ms = e->this_ms;
        out->next_update_ms = e->next_ms;
    }
    pthread_mutex_unlock(lock);
    return copy != NULL;
}

void ocsp_hot_put(const rb_ocsp_responder *r, const ocsp_issuer *issuer, const char *serial,
                  uint64_t counter, const rb_ocsp_answer *answer)
{
    if (r->hot == NULL || counter == 0 || strlen(serial) >= sizeof(r->hot->serial))
        return;
    ocsp_hot_entry *e = slot_of(r, serial);
    pthread_mutex_t *lock = (pthread_mutex_t *)&r->hot_lock;
    pthread_mutex_lock(lock);
    if (e->cap < answer->der_len) {
        uint8_t *grown = realloc(e->der, answer->der_len);
        if (grown == NULL) {
            e->issuer = NULL;
            pthread_mutex_unlock(lock);
            return;
        }
        e->der = grown;
        e->cap = answer->der_len;
    }
    memcpy(e->der, answer->der, answer->der_len);
    e->len = answer->der_len;
    e->issuer = issuer;
    snprintf(e->serial, sizeof(e->serial), "%s", serial);
    e->counter = counter;
    e->this_ms = answer->this_update_ms;
    e->next_ms = answer->next_update_ms;
    pthread_mutex_unlock(lock);
}
