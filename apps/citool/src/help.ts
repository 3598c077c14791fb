/**
 * Help texts, one per command.
 */
export const USAGE =
  "usage: citool [-h] [--version] [-m MODULE] [-O CARDSET | -S SOFTCARD | -M] [-a AZUREKEK] [-k KEYTYPE]\n" +
  "              [options] provider keyName wrapKey [wrapAlg]\n" +
  "       citool inspect <wrapKey> [--json]\n" +
  "       citool keys list|show|delete|enable|disable [keyName] [options]\n" +
  "       citool keys annotate <keyName> <version> --aws-key-material-id <id>\n" +
  "       citool salesforce-cache-only <kid> <cert> [--out FILE] [options]   (see its --help)\n";

export function mainHelp(providers: string[]): string {
  return `${USAGE}
Generate a key inside your PKCS#11 HSM (or reuse one citool made earlier), wrap it inside the HSM
under a cloud provider's public wrapping key, and write the file(s) that provider imports. Without
any HSM settings, citool uses its own embedded SoftHSM2 token in your data directory.

positional arguments:
  provider        where the key goes; one of: ${providers.join(", ")}
  keyName         name of the key in the HSM; created when missing, reused only when citool made it
                  and its type fits the request
  wrapKey         file with the provider's wrapping key: PEM or DER public key, X.509 certificate,
                  or base64 of either (IBM Key Protect's import-token payload as it comes)
  wrapAlg         wrapping algorithm (required for aws, google-compute-engine,
                  google-cloud-key-management, salesforce, alibaba, oci, tencent, otc and huawei):
                    aws, google-compute-engine, salesforce: RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1,
                      RSAES_PKCS1_V1_5 (legacy: needs --allow-legacy where the provider retired it)
                    aws also: RSA_AES_KEY_WRAP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 (for RSA/EC/HMAC keys)
                    google-cloud-key-management: RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 (the hash your
                      import job uses)
                    oci: RSA_OAEP_AES_SHA256 (AES and RSA keys), RSA_OAEP_SHA256 (AES keys)
                    vault-transit, openbao: the transit hash_function, SHA256 (default), SHA1,
                      SHA384, SHA512
                    ibm-key-protect: RSAES_OAEP_SHA_256 (default)
                    tencent, otc: RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSAES_PKCS1_V1_5 (legacy);
                      huawei: RSAES_OAEP_SHA_256
                  microsoft-azure takes none. 'citool inspect wrapKey' lists what fits a given key.

seed-compatible options:
  -h, --help                 show this help (also: citool inspect --help, citool keys --help)
  --version                  print the version
  -m, --module MODULE        token to use: its label, its serial number, or #N (N-th token from 0);
                             a bare number N that matches no label or serial means the N-th token,
                             counted from 1 like HSM module numbers
  -O, --ocs CARDSET          operator-card-set protection: use the token labelled CARDSET and its PIN
  -S, --softcard SOFTCARD    softcard protection: use the token labelled SOFTCARD and its passphrase
  -M, --module-protection    module protection: the default token (default)
  -a, --azure-kek AZUREKEK   microsoft-azure only: key identifier URL of the key exchange key,
                             https://<name>.vault.azure.net/keys/<key>/<version> or
                             https://<name>.managedhsm.azure.net/keys/<key>/<version>
  --ibm-nonce NONCE          ibm-key-protect only (required): the base64 'nonce' of the import token
                             whose public key is wrapKey; citool encrypts it under the new key
  -k, --key-type KEYTYPE     type of key to generate: AES-256, EC-NISTP256, EC-NISTP384, EC-NISTP521,
                             EC-SECP256K1, RSA-2048, RSA-3072, RSA-4096 (and more per provider).
                             Default: RSA-2048 for microsoft-azure and google-cloud-key-management,
                             AES-256 for the others

HSM selection (also settable in the config file or the environment):
  --hsm-lib PATH             PKCS#11 library to load (env CIOP_PKCS11_LIB)
  --hsm-params TEXT          parameters for the library's C_Initialize, e.g. NSS softokn's
                             "configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db'
                             flags=noModDB" (env CIOP_PKCS11_PARAMS)
  --token TOKEN              token label, serial or #N, like -m (env CIOP_TOKEN)
  --pin-file FILE            read the PIN from FILE (env CIOP_PIN_FILE); or put the PIN in env
                             CIOP_PIN; otherwise citool asks on the terminal. Never on the command line.
  --data-dir DIR             where the embedded token lives (env CIOP_DATA_DIR)
  --allow-host-fallback      on a hardware token, allow steps the token cannot do to run on this
                             host (key material briefly in memory); always allowed on software tokens

output and safety:
  --out-dir DIR              write the files into DIR instead of the current directory
  --force                    replace output files that already exist
  --json                     print one JSON document on stdout (key, wrapping key, files, sha256s)
  --allow-weak-wrapping-key  accept a wrapping key weaker than the key it protects
  --allow-invalid-certificate  accept an expired or not-yet-valid wrapping certificate
  --allow-legacy             accept algorithms the provider no longer takes (e.g. AWS PKCS#1 v1.5)
  --audit-log FILE|off       append the audit record to FILE (default ~/.local/share/ciop/audit.log;
                             env CIOP_AUDIT_LOG)
  --config FILE              read settings from this TOML file (default ~/.config/ciop/citool.toml;
                             env CIOP_CONFIG)
  --debug                    print stack traces with errors

AWS key-material rotation (aws only; symmetric AES-256 keys an earlier aws export made):
  --new-key-material         make the next version of keyName in the HSM (label keyName~vN), write
                             keyName-vN-wrapped and print the 'aws kms import-key-material ...
                             --import-type NEW_KEY_MATERIAL' command for it
  --key-material-description TEXT  the KeyMaterialDescription recorded and put in that command: up to
                             256 letters, digits, spaces and : / _ . - (default "ciop keyName vN DATE")
  --key-material-version N   write version N again (for a multi-Region replica, under that Region's
                             wrapping key) with the EXISTING_KEY_MATERIAL command, including
                             --key-material-id when 'citool keys annotate' recorded it

While a new RSA key is generated (minutes for RSA-4096 on some HSMs) a progress line shows on
stderr when it is a terminal. Colours are used only on a terminal, and never when NO_COLOR is set.
Nothing is generated or written until every argument has been checked; files are written
atomically, all or none, and never over an existing file unless --force is given.
Exit status: 0 done, 1 failed while working (HSM, PIN, I/O), 2 bad command line or input.

examples:
  citool aws mykey WrappingPublicKey.bin RSAES_OAEP_SHA_256
  citool google-compute-engine disk-key google-cloud-csek-ingress.pem RSAES_OAEP_SHA_1
  citool google-cloud-key-management sign-key job.pem RSAES_OAEP_SHA_256 -k EC-NISTP256
  citool microsoft-azure vault-key kek.pem -a https://myvault.vault.azure.net/keys/kek/0123abcd -k RSA-3072
  citool salesforce tenant-secret salesforce.crt RSAES_OAEP_SHA_1
  citool oci app-key wrapping-key.pem RSA_OAEP_AES_SHA256
  citool vault-transit orders wrapping_key.pem SHA256 -k RSA-3072
  citool ibm-key-protect root-key payload.b64 --ibm-nonce 'DyWG4k0DdJpzNfTr'
  citool -m my-token --pin-file ~/.pin aws mykey WrappingPublicKey.bin RSAES_OAEP_SHA_1 --json
  citool aws mykey WrappingPublicKey.bin RSAES_OAEP_SHA_256 --new-key-material
  citool aws mykey replica-WrappingPublicKey.bin RSAES_OAEP_SHA_256 --key-material-version 2
`;
}

export const INSPECT_HELP = `usage: citool inspect <wrapKey> [--json] [--allow-weak-wrapping-key] [--allow-invalid-certificate] [--allow-legacy]

Show what a provider's wrapping key is: type and size, security strength, SHA-256 fingerprint of
the public key, and for a certificate its subject, issuer, serial and validity. Then list, for every
provider, which wrapping algorithms and key types an export with this key would accept (each
provider's own checks are run with no key generated). The --allow-* options show what those
overrides would open up. No HSM is needed.

examples:
  citool inspect WrappingPublicKey.bin
  citool inspect salesforce.crt --json
`;

export const KEYS_HELP = `usage: citool keys list [--all] [--json]
       citool keys show <keyName> [--json]
       citool keys delete <keyName> [--yes]
       citool keys enable <keyName>
       citool keys disable <keyName>
       citool keys annotate <keyName> <version> --aws-key-material-id <id> [--force]

Manage the keys citool created on the selected token (same HSM options as an export: -m/--token,
--hsm-lib, -O/-S/-M, --pin-file, --config). Keys that citool did not create are listed only with
--all and are never changed.

  list      the keys citool created (with --all: every key on the token); the versions an AWS
            key-material rotation made are listed as keys labelled <keyName>~v<N>
  show      one key's type, state and attributes, and its AWS key-material versions (number, label,
            state, created, recorded KeyMaterialId, description)
  delete    destroy the key in the HSM; asks you to type its name, or pass --yes
  disable   citool refuses to export the key, and the HSM to use it, until it is enabled again
  enable    undo disable
  annotate  record the KeyMaterialId AWS printed for version <version> (1 = the key itself), so
            'keys show' matches HSM keys to AWS's key materials; a different recorded id is replaced
            only with --force. Needs a token that keeps data objects (SoftHSM does, NSS softokn not)

delete, enable, disable and annotate are written to the audit log. delete removes one version (name
the version's label, <keyName>~v<N>, to delete that version) with its record; version 1 (keyName
itself) only once no later version is left.

examples:
  citool keys list
  citool keys show mykey --json
  citool keys disable mykey
  citool keys delete mykey --yes
  citool keys annotate mykey 2 --aws-key-material-id 0b7fd7ddbac6eef27907413567cad8c810e2883dc8a7534067a82ee1142fc1e6
`;
