/*
 * `rubrica bench issue`: a benchmark, not a test. Issues N certificates from
 * N distinct CSRs through the same path as `cert issue` (CSR check, subject
 * and profile checks, lint, signature, durable commit with audit records,
 * batched commits), times `openssl ca -batch` on a sample of the same CSRs
 * with the same issuing key, prints both rates and their ratio, and with
 * --prefill the rate into a store that already holds, say, a million
 * certificates, in rounds that alternate with the empty store's.
 */
#include "cli/cli.h"

#include "ca/ca.h"
#include "ca/init.h"
#include "core/hex.h"
#include "pki/x509util.h"
#include "store/store.h"

#include <errno.h>
#include <ftw.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_opts {
    int count, batch, openssl_sample, prefill, rounds;
    rb_key_type key_type;
    const char *work_dir;
} bench_opts;

static double seconds_on(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double seconds_now(void)
{
    return seconds_on(CLOCK_MONOTONIC);
}

/* N distinct P-256 subscriber keys and their DER CSRs (not timed). */
static int make_csrs(int n, uint8_t ***csrs, size_t **lens)
{
    *csrs = calloc((size_t)n, sizeof(**csrs));
    *lens = calloc((size_t)n, sizeof(**lens));
    if (*csrs == NULL || *lens == NULL)
        return -1;
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (gen == NULL || EVP_PKEY_keygen_init(gen) <= 0 ||
        EVP_PKEY_CTX_set_group_name(gen, "P-256") <= 0) {
        EVP_PKEY_CTX_free(gen);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        EVP_PKEY *key = NULL;
        if (EVP_PKEY_generate(gen, &key) <= 0)
            key = NULL;
        X509_REQ *req = X509_REQ_new();
        X509_NAME *name = X509_NAME_new();
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1,
                                   0);
        int ok = key && req && name && X509_REQ_set_subject_name(req, name) &&
                 X509_REQ_set_pubkey(req, key) && X509_REQ_sign(req, key, EVP_sha256()) > 0;
        unsigned char *der = NULL;
        int len = ok ? i2d_X509_REQ(req, &der) : -1;
        X509_NAME_free(name);
        X509_REQ_free(req);
        EVP_PKEY_free(key);
        if (len <= 0) {
            EVP_PKEY_CTX_free(gen);
            return -1;
        }
        (*csrs)[i] = der;
        (*lens)[i] = (size_t)len;
    }
    EVP_PKEY_CTX_free(gen);
    return 0;
}

/* A valid Peru DNI for index i: 8 digits, the check character is optional. */
static void dni_for(int i, char out[16])
{
    snprintf(out, 16, "%08d", 10000000 + i);
}

/* Issues csrs[from .. from+n) in batches; returns the wall-clock and process CPU seconds. */
static int issue_all(rb_ctx *ctx, rb_issuer *issuer, uint8_t **csrs, size_t *lens, int from, int n,
                     int batch, double *seconds, double *cpu_seconds)
{
    rb_issue_request *reqs = calloc((size_t)batch, sizeof(*reqs));
    rb_issued *out = calloc((size_t)batch, sizeof(*out));
    json_t **fields = calloc((size_t)batch, sizeof(*fields));
    rb_error err = {0};
    int rc = 0;
    double start = seconds_now(), cpu_start = seconds_on(CLOCK_PROCESS_CPUTIME_ID);
    for (int done = 0; rc == 0 && done < n; done += batch) {
        int k = n - done < batch ? n - done : batch;
        for (int i = 0; i < k; i++) {
            char dni[16];
            dni_for(from + done + i, dni);
            fields[i] = json_pack("{s:s,s:s,s:s}", "given_name", "Ana", "surname", "Quispe",
                                  "id_number", dni);
            reqs[i] = (rb_issue_request){.csr = csrs[from + done + i],
                                         .csr_len = lens[from + done + i],
                                         .profile = "natural-person",
                                         .fields = fields[i]};
        }
        if (rb_ca_issue(ctx, issuer, reqs, (size_t)k, out, &err) != RB_OK)
            rc = cli_report(&err);
        for (int i = 0; i < k; i++) {
            json_decref(fields[i]);
            if (rc == 0)
                X509_free(out[i].cert);
        }
    }
    *seconds = seconds_now() - start;
    /* On a shared machine the wall-clock rate varies; the CPU time per certificate does less. */
    *cpu_seconds = seconds_on(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    free(reqs);
    free(out);
    free(fields);
    return rc;
}

/* Runs `openssl ca -batch` once per CSR of the sample; returns the seconds taken. */
static int time_openssl_ca(const bench_opts *o, rb_ctx *ctx, uint8_t **csrs, size_t *lens,
                           double *seconds)
{
    char dir[1024], path[1200], cmd[4800];
    snprintf(dir, sizeof(dir), "%s/openssl-ca", o->work_dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/index.txt", dir);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof(path), "%s/ca.cnf", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    /* Same extensions as our natural-person profile, same issuing key and certificate. */
    fprintf(f,
            "[ca]\ndefault_ca=bench\n[bench]\ndir=%s\ndatabase=$dir/index.txt\nnew_certs_dir=$dir\n"
            "certificate=$dir/issuing.pem\nprivate_key=$dir/issuing-plain.key\nrand_serial=yes\n"
            "default_md=sha256\ndefault_days=1095\npolicy=any\nunique_subject=no\n"
            "x509_extensions=leaf\n[any]\ncommonName=supplied\n[leaf]\n"
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,"
            "nonRepudiation\nextendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\nauthorityInfoAccess=caIssuers;URI:http://127.0.0.1/"
            "ca/issuing.crt,OCSP;URI:http://127.0.0.1/ocsp\ncrlDistributionPoints=URI:http://"
            "127.0.0.1/crl/issuing.crl\ncertificatePolicies=2.999.1.1\n",
            dir);
    fclose(f);
    /* openssl gets the key unencrypted, so its rate is not spent on our PBKDF2 work factor. */
    snprintf(cmd, sizeof(cmd),
             "openssl pkey -in %s/keys/issuing.key -passin env:RUBRICA_KEY_PASS -out "
             "%s/issuing-plain.key",
             ctx->data_dir, dir);
    if (system(cmd) != 0)
        return -1;
    rb_authority *a = NULL;
    rb_error err = {0};
    if (rb_authority_load(ctx, NULL, RB_ROLE_ISSUING, 0, NULL, &a, &err) != RB_OK)
        return cli_report(&err);
    snprintf(path, sizeof(path), "%s/issuing.pem", dir);
    f = fopen(path, "w");
    PEM_write_X509(f, a->cert);
    fclose(f);
    rb_authority_free(a);
    for (int i = 0; i < o->openssl_sample; i++) {
        snprintf(path, sizeof(path), "%s/req%d.der", dir, i);
        f = fopen(path, "wb");
        fwrite(csrs[i], 1, lens[i], f);
        fclose(f);
    }
    double start = seconds_now();
    for (int i = 0; i < o->openssl_sample; i++) {
        snprintf(cmd, sizeof(cmd),
                 "openssl ca -batch -config %s/ca.cnf -notext "
                 "-in %s/req%d.der -inform DER -out %s/cert%d.pem 2>/dev/null",
                 dir, dir, i, dir, i);
        if (system(cmd) != 0) {
            fprintf(stderr, "rubrica: openssl ca failed on request %d\n", i);
            return -1;
        }
    }
    *seconds = seconds_now() - start;
    return 0;
}

/*
 * Adds n certificate records as issuance leaves them: the certificate row
 * (random serial and key hash, a sample DER), its issuance event and its
 * audit record, in large transactions. Only the signature is skipped.
 */
static int prefill(rb_ctx *ctx, int n, const uint8_t *sample_der, size_t sample_len)
{
    rb_error err = {0};
    rb_stmt *stmt;
    int64_t now = rb_ctx_now_ms(ctx);
    for (int done = 0; done < n;) {
        rb_status s = rb_store_begin(ctx->store, &err);
        for (int i = 0; s == RB_OK && i < 50000 && done < n; i++, done++) {
            unsigned char rnd[52];
            char serial[41], spki[65], subject[96], detail[256];
            RAND_bytes(rnd, sizeof(rnd));
            rnd[0] = (rnd[0] & 0x7F) | 1;
            rb_hex_upper(rnd, 20, serial);
            rb_hex_lower(rnd + 20, 32, spki);
            snprintf(subject, sizeof(subject), "CN=Prefill %d,serialNumber=PNOPE-%08d,C=PE", done,
                     20000000 + done);
            snprintf(detail, sizeof(detail),
                     "{\"ca\":\"issuing\",\"not_after_ms\":%lld,\"profile\":\"natural-person\","
                     "\"subject\":\"%s\"}",
                     (long long)(now + 86400000LL * 1095), subject);
            s = rb_store_prepare(ctx->store,
                                 "INSERT INTO certificates (serial, issuer, profile, subject,"
                                 " subject_id, spki_sha256, fields, not_before_ms, not_after_ms,"
                                 " issued_ms, status, der) VALUES ($1, 'issuing', 'natural-person',"
                                 " $2, $3, $4, '{}', $5, $6, $5, 'valid', $7)",
                                 &stmt, &err);
            if (s == RB_OK)
                s = rb_stmt_bind_text(stmt, 1, serial);
            if (s == RB_OK)
                s = rb_stmt_bind_text(stmt, 2, subject);
            if (s == RB_OK)
                s = rb_stmt_bind_text(stmt, 3, subject + 16);
            if (s == RB_OK)
                s = rb_stmt_bind_text(stmt, 4, spki);
            if (s == RB_OK)
                s = rb_stmt_bind_int64(stmt, 5, now);
            if (s == RB_OK)
                s = rb_stmt_bind_int64(stmt, 6, now + 86400000LL * 1095);
            if (s == RB_OK)
                s = rb_stmt_bind_blob(stmt, 7, sample_der, sample_len);
            if (s == RB_OK)
                s = rb_stmt_run(stmt, &err);
            if (s == RB_OK)
                s = rb_ca_record_event_text(ctx, serial, "issue", detail, &err);
        }
        if (s == RB_OK)
            s = rb_store_commit(ctx->store, &err);
        if (s != RB_OK) {
            rb_store_rollback(ctx->store);
            return cli_report(&err);
        }
    }
    return 0;
}

/* One store the bench issues into: its own directory, context and issuing CA. */
typedef struct bench_store {
    rb_ctx ctx;
    rb_issuer *issuer;
    int is_open;
    double *rates; /* certificates/s, one per round */
    char dir[1200], db[1300];
} bench_store;

static int bench_store_open(bench_store *b, const bench_opts *o, cli_globals *g, const char *name)
{
    rb_error err = {0};
    rb_init_params p = {.jurisdiction = "PE",
                        .key_type = o->key_type,
                        .org = "Bench",
                        .base_url = "http://127.0.0.1:8080",
                        .root_name = "root",
                        .issuing_name = "issuing"};
    snprintf(b->dir, sizeof(b->dir), "%s/%s", o->work_dir, name);
    if (mkdir(b->dir, 0700) != 0) {
        if (errno == EEXIST)
            fprintf(stderr,
                    "rubrica: %s already exists: give --work-dir a new or empty directory\n",
                    b->dir);
        else
            perror(b->dir);
        return CLI_EXIT_FAIL;
    }
    snprintf(b->db, sizeof(b->db), "%s/rubrica.db", b->dir);
    b->rates = calloc((size_t)o->rounds, sizeof(*b->rates));
    /* Its own SQLite file, whatever RUBRICA_DB says; the context keeps the pointers. */
    g->data_dir = b->dir;
    g->db = b->db;
    int rc = b->rates ? cli_open(g, &b->ctx) : CLI_EXIT_FAIL;
    g->data_dir = NULL;
    g->db = NULL;
    if (rc != 0)
        return rc;
    b->is_open = 1;
    if (rb_ca_init(&b->ctx, &p, &err) != RB_OK ||
        rb_ca_open_issuer(&b->ctx, NULL, NULL, &b->issuer, &err) != RB_OK)
        return cli_report(&err);
    return 0;
}

static void bench_store_close(bench_store *b)
{
    rb_ca_close_issuer(b->issuer);
    if (b->is_open)
        cli_close(&b->ctx);
    free(b->rates);
}

/* Issues round r's CSRs into b and keeps the rate; prints the round's line to stderr. */
static int measure_round(bench_store *b, const bench_opts *o, const char *label, uint8_t **csrs,
                         size_t *lens, int r)
{
    double secs = 0, cpu = 0;
    int rc =
        issue_all(&b->ctx, b->issuer, csrs, lens, r * o->count, o->count, o->batch, &secs, &cpu);
    if (rc == 0) {
        b->rates[r] = o->count / secs;
        fprintf(stderr, "round %d, %s: %.0f certificates/s (%.0f us each, %.0f us of CPU)\n", r + 1,
                label, b->rates[r], 1e6 * secs / o->count, 1e6 * cpu / o->count);
    }
    return rc;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof(*values), compare_doubles);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* One real certificate from b's CA: what the prefill stores as every row's DER. */
static int sample_certificate(bench_store *b, const uint8_t *csr, size_t len, unsigned char **der,
                              int *der_len)
{
    rb_error err = {0};
    rb_issued out = {0};
    json_t *fields = json_pack("{s:s,s:s,s:s}", "given_name", "Ana", "surname", "Muestra",
                               "id_number", "29999999");
    rb_issue_request req = {
        .csr = csr, .csr_len = len, .profile = "natural-person", .fields = fields};
    rb_status s = rb_ca_issue(&b->ctx, b->issuer, &req, 1, &out, &err);
    json_decref(fields);
    if (s != RB_OK)
        return cli_report(&err);
    *der = NULL;
    *der_len = i2d_X509(out.cert, der);
    X509_free(out.cert);
    return *der_len > 0 ? 0 : CLI_EXIT_FAIL;
}

/*
 * The empty store and the prefilled one are measured in alternating rounds
 * (empty first in odd rounds, prefilled first in even ones) on the same
 * CSRs, so a slow spell of a shared machine falls on both rounds of a pair.
 * The drop is the median of the pairs' ratios: a spell that starts halfway
 * through the run then moves it little, where it would move a ratio of the
 * two medians by as much as the spell slowed the machine.
 */
static int run_bench(const bench_opts *o, cli_globals *g)
{
    int total = o->count * o->rounds;
    uint8_t **csrs = NULL;
    size_t *lens = NULL;
    bench_store empty = {0}, full = {0};
    double openssl_secs = 0;
    fprintf(stderr, "preparing %d CSRs and %s CAs in %s ...\n", total,
            rb_key_type_name(o->key_type), o->work_dir);
    /* One more for the prefill's sample certificate. */
    if (make_csrs(total + 1, &csrs, &lens) != 0) {
        fprintf(stderr, "rubrica: cannot make CSRs\n");
        return CLI_EXIT_FAIL;
    }
    int rc = bench_store_open(&empty, o, g, "empty");
    if (rc == 0 && o->prefill)
        rc = bench_store_open(&full, o, g, "prefilled");
    if (rc == 0 && o->prefill) {
        unsigned char *sample = NULL;
        int sample_len = 0;
        fprintf(stderr, "adding %d stored certificates ...\n", o->prefill);
        rc = sample_certificate(&full, csrs[total], lens[total], &sample, &sample_len);
        if (rc == 0)
            rc = prefill(&full.ctx, o->prefill, sample, (size_t)sample_len);
        OPENSSL_free(sample);
        sync(); /* the kernel's write-back of the prefill would slow the first rounds' fsyncs */
    }
    for (int r = 0; rc == 0 && r < o->rounds; r++) {
        int full_first = o->prefill && r % 2 == 1;
        if (full_first)
            rc = measure_round(&full, o, "prefilled store", csrs, lens, r);
        if (rc == 0)
            rc = measure_round(&empty, o, "empty store", csrs, lens, r);
        if (rc == 0 && o->prefill && !full_first)
            rc = measure_round(&full, o, "prefilled store", csrs, lens, r);
    }
    if (rc == 0 && o->openssl_sample > 0)
        rc = time_openssl_ca(o, &empty.ctx, csrs, lens, &openssl_secs);
    /* Each round's prefilled rate over its empty one, before median() sorts the rates. */
    double *paired = calloc((size_t)o->rounds, sizeof(*paired));
    if (rc == 0 && paired == NULL)
        rc = CLI_EXIT_FAIL;
    for (int r = 0; rc == 0 && o->prefill && r < o->rounds; r++)
        paired[r] = full.rates[r] / empty.rates[r];
    if (rc == 0) {
        double ours = median(empty.rates, o->rounds), theirs = o->openssl_sample / openssl_secs;
        /* median() sorted the rates: the spread is the last over the first. */
        if (empty.rates[o->rounds - 1] > 1.15 * empty.rates[0])
            fprintf(stderr,
                    "note: the empty store's rounds ranged from %.0f to %.0f certificates/s; the "
                    "machine was not quiet, so run again for figures to keep\n",
                    empty.rates[0], empty.rates[o->rounds - 1]);
        printf("rubrica: %.0f certificates/s (median of %d rounds of %d certificates, %s issuing "
               "key, SQLite, batches of %d)\n",
               ours, o->rounds, o->count, rb_key_type_name(o->key_type), o->batch);
        if (o->openssl_sample > 0)
            printf("openssl ca: %.0f certificates/s (%d certificates)\nratio: %.1fx\n", theirs,
                   o->openssl_sample, ours / theirs);
        if (o->prefill) {
            double again = median(full.rates, o->rounds);
            printf("rubrica with %d certificates already stored: %.0f certificates/s (median of "
                   "%d rounds; %.0f%% of the rate on an empty store, the median of each round's "
                   "ratio)\n",
                   o->prefill, again, o->rounds, 100.0 * median(paired, o->rounds));
        }
    }
    free(paired);
    bench_store_close(&full);
    bench_store_close(&empty);
    for (int i = 0; i <= total; i++)
        OPENSSL_free(csrs[i]);
    free(csrs);
    free(lens);
    return rc;
}

enum { OPT_COUNT = 1, OPT_BATCH, OPT_SAMPLE, OPT_PREFILL, OPT_ROUNDS, OPT_KEY_TYPE, OPT_WORK };

/* nftw callback: removes one entry of the scratch directory, children first. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int run_issue(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS,
        {"count", required_argument, NULL, OPT_COUNT},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"openssl-sample", required_argument, NULL, OPT_SAMPLE},
        {"prefill", required_argument, NULL, OPT_PREFILL},
        {"rounds", required_argument, NULL, OPT_ROUNDS},
        {"key-type", required_argument, NULL, OPT_KEY_TYPE},
        {"work-dir", required_argument, NULL, OPT_WORK},
        {NULL, 0, NULL, 0},
    };
    cli_globals g = {0};
    bench_opts o = {.count = 10000,
                    .batch = 500,
                    .openssl_sample = 200,
                    .rounds = 5,
                    .key_type = RB_KEY_EC_P256};
    rb_error err = {0};
    char work[] = "/tmp/rubrica-bench-XXXXXX";
    int opt;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &g, &cli_bench_commands[0]))
            continue;
        switch (opt) {
        case OPT_COUNT:
            o.count = atoi(optarg);
            break;
        case OPT_BATCH:
            o.batch = atoi(optarg);
            break;
        case OPT_SAMPLE:
            o.openssl_sample = atoi(optarg);
            break;
        case OPT_PREFILL:
            o.prefill = atoi(optarg);
            break;
        case OPT_ROUNDS:
            o.rounds = atoi(optarg);
            break;
        case OPT_KEY_TYPE:
            if (rb_key_type_parse(optarg, &o.key_type, &err) != RB_OK)
                return cli_usage_error(&cli_bench_commands[0], "%s", err.message);
            break;
        case OPT_WORK:
            o.work_dir = optarg;
            break;
        }
    }
    if (g.db != NULL)
        return cli_usage_error(&cli_bench_commands[0], "the bench makes its own SQLite stores in "
                                                       "the work directory; --db does not apply");
    if (o.count < 1 || o.batch < 1 || o.openssl_sample < 0 || o.prefill < 0 || o.rounds < 1 ||
        o.openssl_sample > o.count)
        return cli_usage_error(&cli_bench_commands[0], "counts must be positive, and the "
                                                       "openssl sample at most --count");
    int made_work_dir = o.work_dir == NULL;
    if (made_work_dir && (o.work_dir = mkdtemp(work)) == NULL) {
        perror("mkdtemp");
        return CLI_EXIT_FAIL;
    }
    if (!made_work_dir && mkdir(o.work_dir, 0700) != 0 && errno != EEXIST) {
        perror(o.work_dir);
        return CLI_EXIT_FAIL;
    }
    if (getenv("RUBRICA_KEY_PASS") == NULL)
        setenv("RUBRICA_KEY_PASS", "benchmark-only-passphrase", 1);
    int rc = run_bench(&o, &g);
    /* A directory the bench made is scratch (with --prefill, near a gigabyte); one given is kept.
     */
    if (made_work_dir && nftw(o.work_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "rubrica: could not remove %s\n", o.work_dir);
    return rc;
}

const cli_command cli_bench_commands[] = {
    {"issue", "certificates/s through the issuance path, beside openssl ca",
     "[--count N] [--rounds N] [--batch N] [--openssl-sample N] [--prefill N]"
     " [--key-type TYPE] [--work-dir DIR]\n\nprints 'rubrica: N certificates/s' (the median of"
     " the rounds), 'openssl ca: N certificates/s'\nand the ratio; with --prefill 1000000, also"
     " the rate into a store that already holds\nthat many certificates, measured in rounds"
     " alternating with the empty store's.",
     run_issue, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
