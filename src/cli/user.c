/*
 * `rubrica user` and `rubrica token`: the people and programs allowed to use
 * the API, their roles, their API tokens and TLS client certificates.
 */
#include "cli/cli.h"

#include "auth/auth.h"
#include "core/reader.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_ROLE = 1, OPT_CERT };

static const struct option options[] = {
    CLI_GLOBAL_OPTIONS,
    {"role", required_argument, NULL, OPT_ROLE},
    {"cert", required_argument, NULL, OPT_CERT},
    {NULL, 0, NULL, 0},
};

typedef struct user_args {
    cli_globals g;
    const char *role, *cert;
    const char *name; /* the positional argument, or NULL */
} user_args;

/* Parses options and up to max_positional (at least min_positional) arguments. */
static int parse_args(int argc, char **argv, const cli_command *cmd, int min_positional,
                      int max_positional, user_args *a)
{
    int opt;
    memset(a, 0, sizeof(*a));
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(opt, &a->g, cmd))
            continue;
        if (opt == OPT_ROLE)
            a->role = optarg;
        else if (opt == OPT_CERT)
            a->cert = optarg;
    }
    int n = argc - optind;
    if (n < min_positional)
        return cli_usage_error(cmd, "missing argument (see --help)");
    if (n > max_positional)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max_positional]);
    if (n > 0)
        a->name = argv[optind];
    return 0;
}

/* Parses the arguments and opens the store: the start of every verb here. */
static int open_args(int argc, char **argv, const cli_command *cmd, int min_positional,
                     int max_positional, user_args *a, rb_ctx *ctx)
{
    int rc = parse_args(argc, argv, cmd, min_positional, max_positional, a);
    return rc != 0 ? rc : cli_open(&a->g, ctx);
}

/* Closes the store and reports s: the end of every verb here. */
static int close_report(rb_ctx *ctx, rb_status s, const rb_error *err)
{
    cli_close(ctx);
    return s == RB_OK ? CLI_EXIT_OK : cli_report(err);
}

/* Closes the store and prints list (when --json) or reports the failure. */
static int close_list(rb_ctx *ctx, rb_status s, const rb_error *err, json_t *list)
{
    int rc = close_report(ctx, s, err);
    if (rc == CLI_EXIT_OK && list != NULL)
        cli_print_json(list);
    else
        json_decref(list);
    return rc;
}

static int run_user_add(int argc, char **argv)
{
    const cli_command *cmd = &cli_user_commands[0];
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    rb_user_role role;
    int rc = parse_args(argc, argv, cmd, 1, 1, &a);
    if (rc != 0)
        return rc;
    if (a.role == NULL)
        return cli_usage_error(cmd, "--role is required: operator, approver, ca-admin or auditor");
    if (rb_user_role_parse(a.role, &role, &err) != RB_OK)
        return cli_usage_error(cmd, "%s", err.message);
    if ((rc = cli_open(&a.g, &ctx)) != 0)
        return rc;
    rc = close_report(&ctx, rb_user_add(&ctx, a.name, role, &err), &err);
    if (rc == CLI_EXIT_OK)
        printf("added user %s (%s)\n", a.name, rb_user_role_name(role));
    return rc;
}

static int print_user(const rb_user *u, void *arg)
{
    char created[RB_TIME_TEXT_LEN];
    rb_time_format(u->created_ms, created, sizeof(created));
    if (arg != NULL) {
        json_array_append_new(arg, json_pack("{s:s,s:s,s:b,s:s}", "name", u->name, "role",
                                             rb_user_role_name(u->role), "disabled", u->disabled,
                                             "created_at", created));
        return 0;
    }
    printf("%-24s %-9s %-9s %s\n", u->name, rb_user_role_name(u->role),
           u->disabled ? "disabled" : "active", created);
    return 0;
}

static int run_user_list(int argc, char **argv)
{
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    int rc = open_args(argc, argv, &cli_user_commands[1], 0, 0, &a, &ctx);
    if (rc != 0)
        return rc;
    json_t *list = a.g.json ? json_array() : NULL;
    return close_list(&ctx, rb_user_list(&ctx, print_user, list, &err), &err, list);
}

static int run_user_disable(int argc, char **argv)
{
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    int rc = open_args(argc, argv, &cli_user_commands[2], 1, 1, &a, &ctx);
    if (rc != 0)
        return rc;
    rc = close_report(&ctx, rb_user_disable(&ctx, a.name, &err), &err);
    if (rc == CLI_EXIT_OK)
        printf("disabled user %s; their tokens and certificates no longer authenticate\n", a.name);
    return rc;
}

static int run_user_cert(int argc, char **argv)
{
    const cli_command *cmd = &cli_user_commands[3];
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    uint8_t *pem = NULL;
    size_t len = 0;
    int rc = parse_args(argc, argv, cmd, 1, 1, &a);
    if (rc != 0)
        return rc;
    if (a.cert == NULL)
        return cli_usage_error(cmd, "--cert FILE is required");
    if (rb_read_file(a.cert, 256 * 1024, &pem, &len, &err) != RB_OK)
        return cli_report(&err);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    free(pem);
    if (cert == NULL) {
        fprintf(stderr, "rubrica: %s holds no PEM certificate\n", a.cert);
        return CLI_EXIT_FAIL;
    }
    rc = cli_open(&a.g, &ctx);
    if (rc == 0)
        rc = close_report(&ctx, rb_user_add_client_cert(&ctx, a.name, cert, &err), &err);
    X509_free(cert);
    if (rc == CLI_EXIT_OK)
        printf("registered the client certificate for %s\n", a.name);
    return rc;
}

const cli_command cli_user_commands[] = {
    {"add", "add a user of the API",
     "NAME --role operator|approver|ca-admin|auditor\n\n"
     "Roles: auditor reads; operator reads and issues; approver also revokes, suspends and\n"
     "reinstates; ca-admin may do everything.",
     run_user_add, NULL},
    {"list", "list users", "[--json]", run_user_list, NULL},
    {"disable", "disable a user (their tokens and certificates stop working at once)", "NAME",
     run_user_disable, NULL},
    {"add-cert", "register a TLS client certificate that authenticates a user",
     "NAME --cert FILE\n\n"
     "Pins the certificate in FILE (PEM) to user NAME: over HTTPS started with\n"
     "'rubrica serve --tls-client-ca CA-FILE', a client presenting it is NAME, with NAME's\n"
     "role. At each call the certificate must also chain to a certificate in CA-FILE, be\n"
     "within its validity and, when this CA issued it, be neither revoked nor suspended;\n"
     "otherwise the call gets 401 with the reason (client_certificate_untrusted,\n"
     "_expired, _not_yet_valid, _wrong_purpose, _revoked, _suspended, _unregistered).\n"
     "Refused here: a certificate that is expired or not valid yet, whose extensions\n"
     "forbid TLS client authentication, or that this CA has revoked or suspended.\n"
     "'rubrica user disable NAME' stops all of NAME's certificates at once.",
     run_user_cert, NULL},
    {"cert", "the same as add-cert (older name)", "NAME --cert FILE", run_user_cert, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int run_token_create(int argc, char **argv)
{
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    char token[RB_TOKEN_TEXT_LEN], id[RB_TOKEN_ID_LEN];
    int rc = open_args(argc, argv, &cli_token_commands[0], 1, 1, &a, &ctx);
    if (rc != 0)
        return rc;
    rc = close_report(&ctx, rb_token_create(&ctx, a.name, token, id, &err), &err);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* The token is the last line, alone, so scripts can take it with `tail -n 1`. */
    printf("token %s for %s; it is shown only this once, store it now:\n%s\n", id, a.name, token);
    OPENSSL_cleanse(token, sizeof(token));
    return CLI_EXIT_OK;
}

static int run_token_revoke(int argc, char **argv)
{
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    int rc = open_args(argc, argv, &cli_token_commands[1], 1, 1, &a, &ctx);
    if (rc != 0)
        return rc;
    rc = close_report(&ctx, rb_token_revoke(&ctx, a.name, &err), &err);
    if (rc == CLI_EXIT_OK)
        printf("revoked token %s\n", a.name);
    return rc;
}

static int print_token(const rb_token_info *t, void *arg)
{
    char created[RB_TIME_TEXT_LEN], revoked[RB_TIME_TEXT_LEN] = "";
    rb_time_format(t->created_ms, created, sizeof(created));
    if (t->revoked_ms)
        rb_time_format(t->revoked_ms, revoked, sizeof(revoked));
    if (arg != NULL) {
        json_array_append_new(arg, json_pack("{s:s,s:s,s:s,s:s,s:s?}", "id", t->id, "user", t->user,
                                             "last4", t->last4, "created_at", created, "revoked_at",
                                             t->revoked_ms ? revoked : NULL));
        return 0;
    }
    printf("%s  %-24s ...%s  %s  %s\n", t->id, t->user, t->last4, created,
           t->revoked_ms ? "revoked" : "active");
    return 0;
}

static int run_token_list(int argc, char **argv)
{
    user_args a;
    rb_ctx ctx;
    rb_error err = {0};
    int rc = open_args(argc, argv, &cli_token_commands[2], 0, 1, &a, &ctx);
    if (rc != 0)
        return rc;
    json_t *list = a.g.json ? json_array() : NULL;
    return close_list(&ctx, rb_token_list(&ctx, a.name, print_token, list, &err), &err, list);
}

const cli_command cli_token_commands[] = {
    {"create", "create an API token for a user (printed once, on the last line)", "NAME",
     run_token_create, NULL},
    {"revoke", "revoke an API token", "ID", run_token_revoke, NULL},
    {"list", "list API tokens (never the tokens themselves)", "[NAME] [--json]", run_token_list,
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
