/*
 * The failed-authentication limiter (ratelimit.h): a fixed table of client
 * entries split into stripes, each under its own mutex, found by a keyed hash
 * of the client's address so that a client cannot choose which stripe it
 * fills. A stripe with no entries is skipped without locking, which keeps
 * the lock off the path of clients that authenticate.
 */
#include "http/ratelimit.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 256 /* power of two */
#define WAYS    16
#define NEVER   INT64_MAX

typedef struct entry {
    uint8_t key[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 masked to its /64 */
    int used;
    unsigned failures;
    int64_t window_start, last_seen;
    int64_t blocked_until; /* 0: not blocked */
    uint64_t suppressed;
    int64_t first_suppressed, last_suppressed;
} entry;

typedef struct stripe {
    pthread_mutex_t lock;
    _Atomic unsigned live; /* entries in use; written under lock, read without */
    entry entries[WAYS];
} stripe;

struct http_ratelimit {
    http_ratelimit_config cfg;
    uint64_t seed[2];
    _Atomic int64_t next_due; /* earliest time a summary is due; NEVER: none pending */
    atomic_flag sweeping;
    pthread_mutex_t overflow_lock;
    http_ratelimit_summary overflow; /* suppressed attempts of evicted entries */
    stripe stripes[STRIPES];
};

rb_status http_ratelimit_new(const http_ratelimit_config *cfg, http_ratelimit **out, rb_error *err)
{
    http_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return rb_fail(err, RB_ENOMEM, NULL, "out of memory");
    if (cfg != NULL)
        rl->cfg = *cfg;
    if (rl->cfg.max_failures == 0)
        rl->cfg.max_failures = HTTP_RATELIMIT_DEFAULT_MAX;
    if (rl->cfg.window_ms <= 0)
        rl->cfg.window_ms = HTTP_RATELIMIT_DEFAULT_WINDOW;
    if (RAND_bytes((unsigned char *)rl->seed, sizeof(rl->seed)) != 1) {
        free(rl);
        return rb_fail_crypto(err, "the random generator failed");
    }
    atomic_init(&rl->next_due, NEVER);
    atomic_flag_clear(&rl->sweeping);
    pthread_mutex_init(&rl->overflow_lock, NULL);
    snprintf(rl->overflow.client, sizeof(rl->overflow.client), "*");
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&rl->stripes[i].lock, NULL);
        atomic_init(&rl->stripes[i].live, 0);
    }
    *out = rl;
    return RB_OK;
}

void http_ratelimit_free(http_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->stripes[i].lock);
    pthread_mutex_destroy(&rl->overflow_lock);
    free(rl);
}

http_ratelimit_config http_ratelimit_get_config(const http_ratelimit *rl)
{
    return rl->cfg;
}

/* The entry key for a numeric address; anything unparsable shares the all-zero key. */
static void client_key(const char *client, uint8_t key[16])
{
    struct in_addr v4;
    memset(key, 0, 16);
    if (client == NULL)
        return;
    if (inet_pton(AF_INET, client, &v4) == 1) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &v4, 4);
    } else if (inet_pton(AF_INET6, client, key) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(key, mapped, sizeof(mapped)) != 0)
            memset(key + 8, 0, 8); /* a native IPv6 address: its /64 */
    }
}

static void key_text(const uint8_t key[16], char *out, size_t len)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = "-";
    if (memcmp(key, mapped, sizeof(mapped)) == 0) {
        inet_ntop(AF_INET, key + 12, text, sizeof(text));
        snprintf(out, len, "%s", text);
    } else {
        inet_ntop(AF_INET6, key, text, sizeof(text));
        snprintf(out, len, "%s/64", text);
    }
}

/* Spreads every input bit over the whole word (a 64-bit finaliser). */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* A keyed hash of the key; not cryptographic, but clients do not know the seed. */
static stripe *stripe_of(http_ratelimit *rl, const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t h = mix(rl->seed[0] ^ a);
    h = mix(h ^ b ^ rl->seed[1]);
    return &rl->stripes[(h >> 32) & (STRIPES - 1)];
}

static entry *find(stripe *st, const uint8_t key[16])
{
    for (int i = 0; i < WAYS; i++)
        if (st->entries[i].used && memcmp(st->entries[i].key, key, 16) == 0)
            return &st->entries[i];
    return NULL;
}

/* Lowers next_due to at (never raises it). */
static void due_at(http_ratelimit *rl, int64_t at)
{
    int64_t current = atomic_load(&rl->next_due);
    while (at < current && !atomic_compare_exchange_weak(&rl->next_due, &current, at))
        ;
}

/* An entry that holds nothing worth keeping: not blocked, no summary owed, window over. */
static int stale(const http_ratelimit *rl, const entry *e, int64_t now)
{
    return e->blocked_until <= now && e->suppressed == 0 &&
           now - e->window_start >= rl->cfg.window_ms;
}

static void release(stripe *st, entry *e)
{
    memset(e, 0, sizeof(*e));
    atomic_fetch_sub(&st->live, 1);
}

/*
 * Frees an entry for a new client, preferring (in order) an unused one, one
 * that is neither blocked nor owes a summary, the least recently seen. An
 * evicted entry's suppressed attempts move to the overflow summary, so they
 * are still recorded.
 */
static entry *claim(http_ratelimit *rl, stripe *st, int64_t now)
{
    entry *victim = NULL;
    int victim_rank = 3;
    for (int i = 0; i < WAYS; i++) {
        entry *e = &st->entries[i];
        if (!e->used) {
            atomic_fetch_add(&st->live, 1);
            e->used = 1;
            return e;
        }
        int rank = e->suppressed > 0 ? 2 : e->blocked_until > now ? 1 : 0;
        if (rank < victim_rank || (rank == victim_rank && e->last_seen < victim->last_seen)) {
            victim = e;
            victim_rank = rank;
        }
    }
    if (victim->suppressed > 0) {
        pthread_mutex_lock(&rl->overflow_lock);
        http_ratelimit_summary *o = &rl->overflow;
        if (o->suppressed == 0 || victim->first_suppressed < o->first_ms)
            o->first_ms = victim->first_suppressed;
        if (victim->last_suppressed > o->last_ms)
            o->last_ms = victim->last_suppressed;
        o->suppressed += victim->suppressed;
        o->clients++;
        pthread_mutex_unlock(&rl->overflow_lock);
        due_at(rl, now);
    }
    memset(victim, 0, sizeof(*victim));
    victim->used = 1;
    return victim;
}

int64_t http_ratelimit_check(http_ratelimit *rl, const char *client, int64_t now_ms)
{
    uint8_t key[16];
    client_key(client, key);
    stripe *st = stripe_of(rl, key);
    if (atomic_load_explicit(&st->live, memory_order_acquire) == 0)
        return 0;
    int64_t wait = 0;
    pthread_mutex_lock(&st->lock);
    entry *e = find(st, key);
    if (e != NULL && e->blocked_until > now_ms) {
        if (e->suppressed++ == 0)
            e->first_suppressed = now_ms;
        e->last_suppressed = now_ms;
        e->last_seen = now_ms;
        wait = e->blocked_until - now_ms;
        due_at(rl, e->blocked_until);
    } else if (e != NULL && stale(rl, e, now_ms)) {
        release(st, e);
    }
    pthread_mutex_unlock(&st->lock);
    return wait;
}

int64_t http_ratelimit_fail(http_ratelimit *rl, const char *client, int64_t now_ms)
{
    uint8_t key[16];
    client_key(client, key);
    stripe *st = stripe_of(rl, key);
    int64_t block = 0;
    pthread_mutex_lock(&st->lock);
    entry *e = find(st, key);
    if (e == NULL) {
        e = claim(rl, st, now_ms);
        memcpy(e->key, key, 16);
        e->window_start = now_ms;
    } else if (e->blocked_until <= now_ms && now_ms - e->window_start >= rl->cfg.window_ms) {
        e->window_start = now_ms;
        e->failures = 0;
    }
    e->last_seen = now_ms;
    if (e->failures < UINT32_MAX)
        e->failures++;
    if (e->failures >= rl->cfg.max_failures && e->blocked_until <= now_ms) {
        e->blocked_until = now_ms + rl->cfg.window_ms;
        block = rl->cfg.window_ms;
    }
    pthread_mutex_unlock(&st->lock);
    return block;
}

/* Takes st's due summaries into out[*n..max); frees stale entries; notes what stays due. */
static void sweep_stripe(http_ratelimit *rl, stripe *st, int64_t now, int all,
                         http_ratelimit_summary *out, size_t max, size_t *n)
{
    pthread_mutex_lock(&st->lock);
    for (int i = 0; i < WAYS; i++) {
        entry *e = &st->entries[i];
        if (!e->used)
            continue;
        int due = e->suppressed > 0 && (all || e->blocked_until <= now);
        if (due && *n < max) {
            http_ratelimit_summary *s = &out[(*n)++];
            memset(s, 0, sizeof(*s));
            key_text(e->key, s->client, sizeof(s->client));
            s->clients = 1;
            s->suppressed = e->suppressed;
            s->first_ms = e->first_suppressed;
            s->last_ms = e->last_suppressed;
            s->blocked_until_ms = e->blocked_until;
            e->suppressed = 0;
            e->first_suppressed = e->last_suppressed = 0;
        } else if (e->suppressed > 0) {
            due_at(rl, due ? now : e->blocked_until);
        }
        if (stale(rl, e, now))
            release(st, e);
    }
    pthread_mutex_unlock(&st->lock);
}

size_t http_ratelimit_take(http_ratelimit *rl, int64_t now_ms, int all, http_ratelimit_summary *out,
                           size_t max)
{
    if (max == 0 || (!all && now_ms < atomic_load(&rl->next_due)))
        return 0;
    if (atomic_flag_test_and_set(&rl->sweeping))
        return 0;
    /*
     * Reset first: an attempt suppressed while we sweep either lands in a
     * stripe not yet swept (we see it) or lowers next_due after this store.
     */
    atomic_store(&rl->next_due, NEVER);
    size_t n = 0;
    for (int i = 0; i < STRIPES; i++)
        sweep_stripe(rl, &rl->stripes[i], now_ms, all, out, max, &n);
    pthread_mutex_lock(&rl->overflow_lock);
    if (rl->overflow.suppressed > 0 && n < max) {
        out[n++] = rl->overflow;
        memset(&rl->overflow, 0, sizeof(rl->overflow));
        snprintf(rl->overflow.client, sizeof(rl->overflow.client), "*");
    } else if (rl->overflow.suppressed > 0) {
        due_at(rl, now_ms);
    }
    pthread_mutex_unlock(&rl->overflow_lock);
    atomic_flag_clear(&rl->sweeping);
    return n;
}
