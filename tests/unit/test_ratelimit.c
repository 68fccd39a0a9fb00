/*
 * Unit tests of src/http/ratelimit.c: the allowance and the block, the
 * window, IPv6 counted per /64, summaries taken once and only when due,
 * eviction that loses no suppressed attempt, and the same accounting under
 * several threads at once.
 */
#include "harness.h"

#include "http/ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static http_ratelimit *limiter(unsigned max, int64_t window_ms)
{
    rb_error err = {0};
    http_ratelimit *rl = NULL;
    http_ratelimit_config cfg = {.max_failures = max, .window_ms = window_ms};
    if (http_ratelimit_new(&cfg, &rl, &err) != RB_OK)
        return NULL;
    return rl;
}

/* Sum of suppressed attempts over every summary take() gives now (all when all is set). */
static uint64_t drain(http_ratelimit *rl, int64_t now, int all, size_t *summaries)
{
    http_ratelimit_summary out[8];
    uint64_t total = 0;
    size_t n, count = 0;
    do {
        n = http_ratelimit_take(rl, now, all, out, 8);
        for (size_t i = 0; i < n; i++)
            total += out[i].suppressed;
        count += n;
    } while (n > 0);
    if (summaries != NULL)
        *summaries = count;
    return total;
}

TEST(ratelimit_blocks_after_allowance)
{
    http_ratelimit *rl = limiter(3, 1000);
    REQUIRE(rl != NULL);
    http_ratelimit_config cfg = http_ratelimit_get_config(rl);
    CHECK(cfg.max_failures == 3 && cfg.window_ms == 1000);
    int64_t t = 5000;
    CHECK(http_ratelimit_check(rl, "192.0.2.7", t) == 0);
    CHECK(http_ratelimit_fail(rl, "192.0.2.7", t) == 0);
    CHECK(http_ratelimit_fail(rl, "192.0.2.7", t + 10) == 0);
    CHECK(http_ratelimit_check(rl, "192.0.2.7", t + 20) == 0);
    CHECK(http_ratelimit_fail(rl, "192.0.2.7", t + 20) == 1000); /* the third starts a block */
    CHECK(http_ratelimit_check(rl, "192.0.2.7", t + 20) == 1000);
    CHECK(http_ratelimit_check(rl, "192.0.2.7", t + 520) == 500);
    CHECK(http_ratelimit_check(rl, "192.0.2.8", t + 520) == 0); /* others are not affected */
    /* Nothing is due while the block lasts; then one summary with both attempts. */
    CHECK(drain(rl, t + 900, 0, NULL) == 0);
    CHECK(http_ratelimit_check(rl, "192.0.2.7", t + 1020) == 0);
    http_ratelimit_summary out[4];
    CHECK(http_ratelimit_take(rl, t + 1020, 0, out, 4) == 1);
    CHECK_STR(out[0].client, "192.0.2.7");
    CHECK(out[0].suppressed == 2 && out[0].clients == 1);
    CHECK(out[0].first_ms == t + 20 && out[0].last_ms == t + 520);
    CHECK(out[0].blocked_until_ms == t + 1020);
    CHECK(http_ratelimit_take(rl, t + 5000, 1, out, 4) == 0); /* taken once */
    /* A new window gives a new allowance. */
    CHECK(http_ratelimit_fail(rl, "192.0.2.7", t + 1100) == 0);
    CHECK(http_ratelimit_check(rl, "192.0.2.7", t + 1100) == 0);
    http_ratelimit_free(rl);
    http_ratelimit_free(NULL);
}

TEST(ratelimit_window_forgets)
{
    http_ratelimit *rl = limiter(3, 1000);
    REQUIRE(rl != NULL);
    /* Two failures, a pause longer than the window, two more: never blocked. */
    CHECK(http_ratelimit_fail(rl, "198.51.100.1", 0 + 1) == 0);
    CHECK(http_ratelimit_fail(rl, "198.51.100.1", 2) == 0);
    CHECK(http_ratelimit_fail(rl, "198.51.100.1", 1500) == 0);
    CHECK(http_ratelimit_fail(rl, "198.51.100.1", 1600) == 0);
    CHECK(http_ratelimit_check(rl, "198.51.100.1", 1700) == 0);
    CHECK(http_ratelimit_fail(rl, "198.51.100.1", 1700) == 1000);
    http_ratelimit_free(rl);
}

TEST(ratelimit_ipv6_per_prefix)
{
    http_ratelimit *rl = limiter(2, 1000);
    REQUIRE(rl != NULL);
    CHECK(http_ratelimit_fail(rl, "2001:db8:1:2::1", 100) == 0);
    CHECK(http_ratelimit_fail(rl, "2001:db8:1:2:ffff::9", 100) == 1000); /* same /64 */
    CHECK(http_ratelimit_check(rl, "2001:db8:1:2:abcd::1", 200) > 0);
    CHECK(http_ratelimit_check(rl, "2001:db8:1:3::1", 200) == 0); /* another /64 */
    /* IPv4-mapped addresses stay one address each, not one /64 for all of IPv4. */
    CHECK(http_ratelimit_fail(rl, "::ffff:192.0.2.1", 100) == 0);
    CHECK(http_ratelimit_fail(rl, "::ffff:192.0.2.1", 100) == 1000);
    CHECK(http_ratelimit_check(rl, "::ffff:192.0.2.2", 200) == 0);
    CHECK(http_ratelimit_check(rl, "192.0.2.1", 200) > 0); /* the same client either way */
    http_ratelimit_summary out[4];
    size_t n = http_ratelimit_take(rl, 300, 1, out, 4);
    CHECK(n == 2);
    int prefix = 0, v4 = 0;
    for (size_t i = 0; i < n; i++) {
        prefix += strcmp(out[i].client, "2001:db8:1:2::/64") == 0;
        v4 += strcmp(out[i].client, "192.0.2.1") == 0;
    }
    CHECK(prefix == 1 && v4 == 1);
    http_ratelimit_free(rl);
}

/*
 * Far more blocked clients than the table holds: every suppressed attempt is
 * still in exactly one summary (evicted ones in "*").
 */
TEST(ratelimit_eviction_keeps_counts)
{
    http_ratelimit *rl = limiter(1, 60000);
    REQUIRE(rl != NULL);
    uint64_t suppressed = 0;
    char addr[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        http_ratelimit_fail(rl, addr, 1000 + i);
        for (int k = 0; k < 2; k++)
            suppressed += http_ratelimit_check(rl, addr, 1000 + i) > 0;
    }
    CHECK(suppressed == 40000);
    size_t summaries = 0;
    CHECK(drain(rl, 30000, 1, &summaries) == suppressed);
    CHECK(summaries > 1 && summaries <= 256 * 16 + 1);
    /* Overflow is due at once; nothing else until the blocks end. */
    http_ratelimit_free(rl);
}

typedef struct hammer_arg {
    http_ratelimit *rl;
    unsigned seed;
    uint64_t refused;    /* attempts check() refused */
    uint64_t suppressed; /* refused, minus what this thread found in summaries */
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *a = p;
    char addr[32];
    for (int i = 0; i < 20000; i++) {
        unsigned r = (unsigned)rand_r(&a->seed);
        snprintf(addr, sizeof(addr), "203.0.%u.%u", (r >> 8) % 8, r % 32);
        int64_t now = i / 10;
        if (http_ratelimit_check(a->rl, addr, now) > 0) {
            a->refused++;
            a->suppressed++;
        } else
            http_ratelimit_fail(a->rl, addr, now);
        if (i % 500 == 0) {
            http_ratelimit_summary out[4];
            size_t n = http_ratelimit_take(a->rl, now, 0, out, 4);
            for (size_t k = 0; k < n; k++)
                a->suppressed -= out[k].suppressed; /* counted once, wherever taken */
        }
    }
    return NULL;
}

TEST(ratelimit_threads_account_exactly)
{
    http_ratelimit *rl = limiter(4, 300);
    REQUIRE(rl != NULL);
    pthread_t threads[4];
    hammer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (hammer_arg){.rl = rl, .seed = 17u + (unsigned)i};
        REQUIRE(pthread_create(&threads[i], NULL, hammer, &args[i]) == 0);
    }
    int64_t outstanding = 0;
    uint64_t refused = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        outstanding += (int64_t)args[i].suppressed;
        refused += args[i].refused;
    }
    CHECK(refused > 1000);
    CHECK((int64_t)drain(rl, 1000000, 1, NULL) == outstanding);
    http_ratelimit_free(rl);
}

/*
 * Addresses that differ in a single octet spread over the table: 500 blocked
 * clients all stay blocked (a weak hash crowded them into one stripe, where
 * they evicted each other and were never blocked).
 */
TEST(ratelimit_spreads_addresses)
{
    http_ratelimit *rl = limiter(2, 60000);
    REQUIRE(rl != NULL);
    char addr[32];
    int blocked = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 500; i++) {
            snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 250, i % 250);
            http_ratelimit_fail(rl, addr, 1000);
        }
    for (int i = 0; i < 500; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 250, i % 250);
        blocked += http_ratelimit_check(rl, addr, 2000) > 0;
    }
    CHECK(blocked == 500);
    http_ratelimit_free(rl);
}
