/*
 * `rubrica audit`: list and verify the hash-chained audit log.
 * (verify and list are being written; see issue 2)
 */
#include "cli/cli.h"

const cli_command cli_audit_commands[] = {
    {NULL, NULL, NULL, NULL, NULL},
};
