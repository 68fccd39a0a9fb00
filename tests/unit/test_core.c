/*
 * Unit tests of src/core: time text, the bounded reader, the text check and
 * error formatting.
 */
#include "harness.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/reader.h"

TEST(core_time_round_trip)
{
    char buf[RB_TIME_TEXT_LEN];
    int64_t ms = 0;
    rb_error err = {0};
    REQUIRE(rb_time_parse("2026-11-22T10:20:30.123Z", &ms, &err) == RB_OK);
    CHECK_STR(rb_time_format(ms, buf, sizeof(buf)), "2026-11-22T10:20:30.123Z");
    REQUIRE(rb_time_parse("2026-02-28", &ms, &err) == RB_OK);
    CHECK_STR(rb_time_format(ms, buf, sizeof(buf)), "2026-02-28T00:00:00.000Z");
    CHECK(rb_time_parse("2026-02-29", &ms, &err) == RB_EINVAL);
    CHECK(rb_time_parse("2026-11-22T10:20:30+05:00", &ms, &err) == RB_EINVAL);
    CHECK(rb_time_parse("yesterday", &ms, &err) == RB_EINVAL);
}

TEST(core_fixed_clock)
{
    rb_clock fixed = {.fixed_ms = 1234567};
    CHECK(rb_clock_now_ms(&fixed) == 1234567);
    CHECK(rb_clock_now_ms(NULL) > 1700000000000LL);
}

TEST(core_reader_bounds)
{
    const uint8_t data[] = {1, 2, 3, 4, 5};
    rb_reader r;
    uint32_t v32;
    uint16_t v16;
    const uint8_t *p;
    rb_reader_init(&r, data, sizeof(data));
    REQUIRE(rb_reader_u32be(&r, &v32) == RB_OK);
    CHECK(v32 == 0x01020304);
    CHECK(rb_reader_u16be(&r, &v16) == RB_EINVAL);
    CHECK(rb_reader_remaining(&r) == 1);
    CHECK(rb_reader_bytes(&r, 2, &p) == RB_EINVAL);
    CHECK(rb_reader_bytes(&r, 1, &p) == RB_OK && p[0] == 5);
}

TEST(core_text_check)
{
    rb_error err = {0};
    CHECK(rb_text_check("name", "Núñez Ñandú", 64, &err) == RB_OK);
    CHECK(rb_text_check("name", "bad\x01", 64, &err) == RB_EINVAL);
    rb_error_clear(&err);
    CHECK(rb_text_check("name", "\xc3\x28", 64, &err) == RB_EINVAL);
    CHECK(strstr(err.message, "UTF-8") != NULL);
    rb_error_clear(&err);
    CHECK(rb_text_check("name", "\xed\xa0\x80", 64, &err) == RB_EINVAL); /* surrogate */
    rb_error_clear(&err);
    CHECK(rb_text_check("name", "abcdef", 3, &err) == RB_EINVAL);
}

TEST(core_error_keeps_first_cause)
{
    rb_error err = {0};
    char buf[512];
    CHECK(rb_fail(&err, RB_EINVAL, "RFC 5280 4.1.2.2", "serial too long") == RB_EINVAL);
    CHECK(rb_fail(&err, RB_ESTORE, NULL, "later") == RB_ESTORE);
    CHECK(err.status == RB_EINVAL);
    CHECK_STR(rb_error_format(&err, buf, sizeof(buf)), "serial too long (RFC 5280 4.1.2.2)");
}
