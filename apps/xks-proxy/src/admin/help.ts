/** Help texts of the admin commands (printed by `--help`, `help <command>` and on usage errors). */

const HSM_SELECTION = `HSM selection (every command that touches the HSM):
  --config FILE     proxy config (ciop TOML or the AWS sample proxy's settings TOML);
                    default $XKS_PROXY_CONFIG, then $XKS_PROXY_SETTINGS_TOML
  --hsm-lib PATH    PKCS#11 library (overrides the config; default $CIOP_PKCS11_LIB, else SoftHSM2)
  --hsm-params TEXT parameters for the library's C_Initialize (NSS softokn needs them); default the
                    config's library_parameters for the config's library, else $CIOP_PKCS11_PARAMS
  --token LABEL     token label, serial or #index (overrides the config; default $CIOP_TOKEN)
  --pin-file FILE   file holding the user PIN (else the config, $CIOP_PIN or $CIOP_PIN_FILE);
                    a PIN is never accepted as a command-line argument`;

export const ADMIN_HELP = `xks-proxy admin commands

  xks-proxy keys create <name> [--usage encrypt-decrypt|encrypt-only|decrypt-only]
  xks-proxy keys list [--all] [--json]
  xks-proxy keys show <name> | rotate <name>
  xks-proxy keys enable <name> [--version N]
  xks-proxy keys disable <name> [--version N]
  xks-proxy keys delete <name> --version N [--yes]
  xks-proxy credential new [--json] [--out FILE]
  xks-proxy store-json [--store NAME] [--access-key-id ID] [--out FILE]
  xks-proxy salesforce ...        (Salesforce cache-only key service; see 'xks-proxy salesforce --help')
  xks-proxy azure-ekm ...         (Azure Managed HSM external keys; see 'xks-proxy azure-ekm --help')

'xks-proxy admin <command> ...' is the same as 'xks-proxy <command> ...'.
Run 'xks-proxy <command> --help' for the options and examples of one command.

Exit status: 0 done, 1 the operation failed (HSM, missing key, config), 2 usage error.
`;

export const KEYS_HELP = `xks-proxy keys: the AES-256 keys that back external KMS keys

  xks-proxy keys create <name> [--usage encrypt-decrypt|encrypt-only|decrypt-only] [--json]
      Generates an AES-256 key inside the HSM as a token object: sensitive, never extractable,
      marked as created by ciop. <name> becomes CKA_LABEL and is the externalKeyId you give KMS
      (1-128 characters of A-Z a-z 0-9 - . _). The key material never leaves the HSM.
      --usage  what the key may do (default encrypt-decrypt; KMS itself needs both)

  xks-proxy keys list [--all] [--json]
      Lists the AES-256 keys on the token with their state and usage, and the stores of the
      config that allow them, with each key's version and creation time. --all also shows keys
      of other types.

  xks-proxy keys show <name> [--json]
      The versions of one external key: label, state, usage, creation time, which is current.

  xks-proxy keys rotate <name> [--json]
      Adds a version (a new AES-256 key labelled <name>~v<N>, sensitive, never extractable, with
      the first version's usage) and makes it current: every proxy sharing the HSM encrypts under
      it within the key-state TTL. Ciphertexts name their version, so older ones still decrypt.
      The KMS key and the external key id stay the same.

  xks-proxy keys enable <name> [--version N]
  xks-proxy keys disable <name> [--version N]
      Switches a key (or one version of it) on or off in the HSM itself. Every proxy instance
      sharing the HSM refuses a disabled key or version (InvalidStateException) within about a
      second; nothing is restarted. The current version is the highest enabled one. Without
      --version, disable switches every version off; enable needs --version for a rotated key.

  xks-proxy keys delete <name> --version N [--yes]
      Destroys one disabled version; its ciphertexts can never be decrypted again. Asks you to
      type the version's label, or --yes (required when stdin is not a terminal).

${HSM_SELECTION}

Examples:
  xks-proxy keys create xks-key-01 --config /etc/xks-proxy/config.toml
  CIOP_PIN_FILE=/run/secrets/pin xks-proxy keys list --hsm-lib /usr/lib/softhsm/libsofthsm2.so --token xks
  xks-proxy keys disable xks-key-01 --config /etc/xks-proxy/config.toml
  xks-proxy keys rotate xks-key-01 --config /etc/xks-proxy/config.toml
  xks-proxy keys disable xks-key-01 --version 1 && xks-proxy keys delete xks-key-01 --version 1
`;

export const CREDENTIAL_HELP = `xks-proxy credential new: a fresh SigV4 credential for one key store

  xks-proxy credential new [--json] [--out FILE]

Prints a new access key id (24 characters of A-Z and 2-7) and secret access key (44 Base64
characters, 256 random bits), in the form KMS requires, with the lines to paste into the proxy
config. The secret is written to stdout (or to FILE with mode 0600) and nowhere else.
  --json      print {"accessKeyId": ..., "secretAccessKey": ...} only
  --out FILE  write the credential to FILE (mode 0600, refused if FILE exists) and print only
              the access key id

Rotation: add the new credential next to the old one in the store (a store accepts two), reload
the proxy (SIGHUP), update the external key store in KMS, then remove the old one.

Examples:
  xks-proxy credential new
  xks-proxy credential new --out /root/xks-store-a.credential
`;

export const STORE_JSON_HELP = `xks-proxy store-json: the file the AWS KMS console accepts for an external key store

  xks-proxy store-json [--store NAME] [--access-key-id ID] [--out FILE] [--config FILE]

Prints the JSON configuration file (XksProxyUriPath and XksProxyAuthenticationCredential) that the
KMS console's "upload configuration file" reads when creating or updating an external key store.
It contains the store's secret access key: keep it out of logs and delete it after uploading.
  --store NAME          the store (by name or URI prefix); optional when the config has one store
  --access-key-id ID    which credential, when the store has two (default: the last one listed,
                        i.e. the newest during a rotation)
  --out FILE            write the file (mode 0600, refused if FILE exists) instead of stdout

Examples:
  xks-proxy store-json --config /etc/xks-proxy/config.toml --store tenant-a > tenant-a.json
  xks-proxy store-json --store /tenant-a/xks --out /root/tenant-a-xks.json
`;
