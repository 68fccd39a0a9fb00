# A private SoftHSM2 token for the tests (sourced, not run). Creates a config
# and token directory under a temporary directory, initialises a token
# labelled "rubrica" and exports what librubrica and the PKCS#11 tools need:
# SOFTHSM2_CONF, RUBRICA_PKCS11_MODULE, RUBRICA_PKCS11_PIN (and the SO PIN in
# RUBRICA_TEST_SO_PIN). Sets HAVE_SOFTHSM=1 when the token is ready, 0 with a
# note on stderr when SoftHSM2 is missing (skip the PKCS#11 checks then).
# Call softhsm_cleanup when done (finish() does not). tests/unit/softhsm.c
# does the same for the unit tests, with the same PINs.

softhsm_setup() {
  if ! command -v softhsm2-util >/dev/null 2>&1; then
    echo "softhsm2-util not found: PKCS#11 tests skipped" >&2
    return 1
  fi
  local module=${RUBRICA_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
  [ -r "$module" ] || { echo "SoftHSM2 module $module not found" >&2; return 1; }
  SOFTHSM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rubrica-hsm.XXXXXX")
  mkdir -p "$SOFTHSM_DIR/tokens"
  cat >"$SOFTHSM_DIR/softhsm2.conf" <<CONF
directories.tokendir = $SOFTHSM_DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  export SOFTHSM2_CONF="$SOFTHSM_DIR/softhsm2.conf"
  export RUBRICA_PKCS11_MODULE="$module"
  export RUBRICA_PKCS11_PIN=${RUBRICA_PKCS11_PIN:-4321}
  export RUBRICA_TEST_SO_PIN=${RUBRICA_TEST_SO_PIN:-87654321}
  softhsm2-util --init-token --free --label rubrica \
    --so-pin "$RUBRICA_TEST_SO_PIN" --pin "$RUBRICA_PKCS11_PIN" >/dev/null || {
    echo "softhsm2-util could not initialise the test token" >&2
    return 1
  }
}

softhsm_cleanup() {
  [ -n "${SOFTHSM_DIR:-}" ] && rm -rf "$SOFTHSM_DIR"
  SOFTHSM_DIR=
}

if softhsm_setup; then HAVE_SOFTHSM=1; else HAVE_SOFTHSM=0; fi
