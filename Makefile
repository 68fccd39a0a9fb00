# Rúbrica build. `make` builds build/librubrica.a and build/rubrica;
# `make unit` builds and runs the unit tests; `make SAN=1 BUILD=build-san unit`
# does the same under AddressSanitizer and UndefinedBehaviorSanitizer;
# `make FUZZ=1 BUILD=build-fuzz fuzz` builds the libFuzzer targets in fuzz/.
# Sources are found by wildcard: a new module needs no edit here.

BUILD   ?= build
CC      ?= cc
PKGS    := openssl sqlite3 libpq jansson libmicrohttpd libp11 libargon2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wno-format-nonliteral
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -D_DEFAULT_SOURCE $(WARN) -Isrc -DRB_SHARE_DIR='"$(CURDIR)"' \
           $(shell pkg-config --cflags $(PKGS)) -MMD -MP
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(FUZZ),1)
CC      := clang
CFLAGS  += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/%)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all unit fuzz clean format format-check

all: $(BUILD)/rubrica $(BUILD)/test_unit

$(BUILD)/librubrica.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/rubrica: $(CLI_OBJ) $(BUILD)/librubrica.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_unit: $(UNIT_OBJ) $(BUILD)/librubrica.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets: `make FUZZ=1 BUILD=build-fuzz fuzz` (clang), run by fuzz/run.
fuzz: $(FUZZ_BIN)

$(BUILD)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/librubrica.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

unit: $(BUILD)/test_unit
	$(BUILD)/test_unit

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(BUILD)/%.d)
