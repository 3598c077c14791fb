/*
 * pkcs11-fault: a PKCS#11 module for tests that loads the real module named in
 * CIOP_FAULT_REAL_MODULE, forwards every function of CK_FUNCTION_LIST to it, and on instruction
 * adds latency to chosen functions, returns a chosen CKR after N calls, or hangs a call.
 *
 * Instructions come from CIOP_FAULT_RULES (read once) and from the file named by
 * CIOP_FAULT_CONTROL (re-read whenever its mtime, size or inode changes; checked with one stat()
 * per call). A variable that is not in the environment is taken from "<module path>.env" when
 * that file exists. Syntax: README.md in this directory.
 *
 * Thread-safe: pkcs11js runs its *Async calls on the libuv threadpool, so the rule table and its
 * counters are guarded by one mutex; delays and hangs run outside it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "pkcs11-min.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_RULES 64
#define MAX_CONTROL_BYTES 65536
#define DEFAULT_HANG_MS 3600000UL
#define HANG_POLL_NS 5000000L

enum action { ACT_DELAY, ACT_FAIL, ACT_HANG, ACT_EMPTY };

struct rule {
  char pattern[64];    /* function name, "*", or a prefix ending in '*' */
  enum action action;
  unsigned long value; /* µs (delay), CK_RV (fail), ms (hang) */
  unsigned long after; /* matching calls let through before the rule acts */
  long times;          /* how often it acts (-1: every time) */
  unsigned long seen;  /* matching calls so far */
  unsigned long fired; /* times it acted */
};

/* Vendor quirks ("quirk <name>" rules): token behaviours that differ from SoftHSM's. */
#define Q_GCM_PARAMS_V3 0x01u   /* only the short CK_GCM_PARAMS (no ulIvBits) */
#define Q_GCM_TOKEN_IV 0x02u    /* encrypt wants a 12-byte zero IV and fills it (CloudHSM, nShield) */
#define Q_GCM_IV_AFTER_TAG 0x04u /* encrypt wants an empty IV; output is ct || tag || IV (Luna) */
#define Q_GCM_BAD_TAG 0x08u     /* a failed GCM decrypt answers bad_tag_ckr */
#define Q_UNIQUE_LABELS 0x10u   /* CKA_LABEL/CKA_ID already on a token object: refused (CloudHSM) */
#define Q_NO_NOTIFY 0x20u       /* C_OpenSession with a Notify callback: refused (CloudHSM) */

struct ruleset {
  struct rule r[MAX_RULES];
  int n;
  unsigned quirks;
  CK_RV bad_tag_ckr;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static CK_FUNCTION_LIST_PTR real;
static CK_RV load_error = CKR_OK;
static struct ruleset env_rules, file_rules;
static const char *control_path;
static struct stat control_seen; /* st_ino 0: no file read yet */
static int control_present;

/* ------------------------------------------------------------------ CKR names */

static const struct { const char *name; CK_RV value; } CKR_NAMES[] = {
  {"CKR_OK", 0x0}, {"CKR_CANCEL", 0x1}, {"CKR_HOST_MEMORY", 0x2}, {"CKR_SLOT_ID_INVALID", 0x3},
  {"CKR_GENERAL_ERROR", 0x5}, {"CKR_FUNCTION_FAILED", 0x6}, {"CKR_ARGUMENTS_BAD", 0x7},
  {"CKR_ATTRIBUTE_READ_ONLY", 0x10}, {"CKR_ATTRIBUTE_SENSITIVE", 0x11}, {"CKR_DATA_INVALID", 0x20},
  {"CKR_DATA_LEN_RANGE", 0x21}, {"CKR_DEVICE_ERROR", 0x30}, {"CKR_DEVICE_MEMORY", 0x31},
  {"CKR_DEVICE_REMOVED", 0x32}, {"CKR_ENCRYPTED_DATA_INVALID", 0x40}, {"CKR_FUNCTION_CANCELED", 0x50},
  {"CKR_KEY_HANDLE_INVALID", 0x60}, {"CKR_KEY_FUNCTION_NOT_PERMITTED", 0x68}, {"CKR_KEY_NOT_WRAPPABLE", 0x69},
  {"CKR_KEY_UNEXTRACTABLE", 0x6a}, {"CKR_MECHANISM_INVALID", 0x70}, {"CKR_MECHANISM_PARAM_INVALID", 0x71},
  {"CKR_OBJECT_HANDLE_INVALID", 0x82}, {"CKR_OPERATION_ACTIVE", 0x90}, {"CKR_OPERATION_NOT_INITIALIZED", 0x91},
  {"CKR_PIN_INCORRECT", 0xa0}, {"CKR_SESSION_CLOSED", 0xb0}, {"CKR_SESSION_COUNT", 0xb1},
  {"CKR_SESSION_HANDLE_INVALID", 0xb3}, {"CKR_TEMPLATE_INCOMPLETE", 0xd0}, {"CKR_TOKEN_NOT_PRESENT", 0xe0},
  {"CKR_TOKEN_NOT_RECOGNIZED", 0xe1}, {"CKR_USER_NOT_LOGGED_IN", 0x101}, {"CKR_BUFFER_TOO_SMALL", 0x150},
  {"CKR_CRYPTOKI_NOT_INITIALIZED", 0x190}, {"CKR_FUNCTION_REJECTED", 0x200},
  {"CKR_CANT_LOCK", 0xa}, {"CKR_ATTRIBUTE_TYPE_INVALID", 0x12}, {"CKR_ATTRIBUTE_VALUE_INVALID", 0x13},
  {"CKR_ENCRYPTED_DATA_LEN_RANGE", 0x41}, {"CKR_KEY_SIZE_RANGE", 0x62}, {"CKR_KEY_TYPE_INCONSISTENT", 0x63},
  {"CKR_TEMPLATE_INCONSISTENT", 0xd1}, {"CKR_SESSION_READ_ONLY", 0xb5}, {"CKR_USER_ALREADY_LOGGED_IN", 0x100},
  {"CKR_USER_TYPE_INVALID", 0x103}, {"CKR_DOMAIN_PARAMS_INVALID", 0x130},
  {"CKR_CRYPTOKI_ALREADY_INITIALIZED", 0x191},
};

static int parse_ulong(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') return -1;
  *out = v;
  return 0;
}

static int parse_ckr(const char *s, CK_RV *out) {
  for (size_t i = 0; i < sizeof CKR_NAMES / sizeof CKR_NAMES[0]; i++) {
    if (strcmp(s, CKR_NAMES[i].name) == 0) { *out = CKR_NAMES[i].value; return 0; }
  }
  return parse_ulong(s, out);
}

/* ------------------------------------------------------------------ rules */

/* Parses "<function> delay <µs>", "<function> fail <CKR> [after N] [times M]",
 * "<function> hang [<ms>] [after N] [times M]". Returns 0, or -1 with a reason in `why`. */
static int parse_rule(char *line, struct rule *r, const char **why) {
  char *words[12];
  int n = 0;
  for (char *save = NULL, *w = strtok_r(line, " \t\r", &save); w && n < 12; w = strtok_r(NULL, " \t\r", &save)) words[n++] = w;
  memset(r, 0, sizeof *r);
  r->times = -1;
  *why = "expected: <function> delay <us> | fail <CKR> | hang [<ms>] | empty, then optional 'after N' 'times M'";
  if (n < 2 || strlen(words[0]) >= sizeof r->pattern) return -1;
  strcpy(r->pattern, words[0]);
  int i = 2;
  if (strcmp(words[1], "delay") == 0) {
    r->action = ACT_DELAY;
    if (n < 3 || parse_ulong(words[2], &r->value) != 0) { *why = "delay needs a number of microseconds"; return -1; }
    i = 3;
  } else if (strcmp(words[1], "fail") == 0) {
    r->action = ACT_FAIL;
    if (n < 3 || parse_ckr(words[2], &r->value) != 0) { *why = "fail needs a CKR name (CKR_DEVICE_ERROR) or number (0x30)"; return -1; }
    i = 3;
  } else if (strcmp(words[1], "empty") == 0) {
    r->action = ACT_EMPTY;
  } else if (strcmp(words[1], "hang") == 0) {
    r->action = ACT_HANG;
    r->value = DEFAULT_HANG_MS;
    if (n >= 3 && isdigit((unsigned char)words[2][0])) {
      if (parse_ulong(words[2], &r->value) != 0) { *why = "hang takes a number of milliseconds"; return -1; }
      i = 3;
    }
  } else {
    return -1;
  }
  for (; i < n; i += 2) {
    unsigned long v;
    if (i + 1 >= n || parse_ulong(words[i + 1], &v) != 0) return -1;
    if (strcmp(words[i], "after") == 0) r->after = v;
    else if (strcmp(words[i], "times") == 0) r->times = (long)v;
    else return -1;
  }
  return 0;
}

/* "quirk <name> [<CKR>]": sets a flag of `out`. Returns 0, or -1 with a reason in `why`. */
static int parse_quirk(char *line, struct ruleset *out, const char **why) {
  char *words[4];
  int n = 0;
  for (char *save = NULL, *w = strtok_r(line, " \t\r", &save); w && n < 4; w = strtok_r(NULL, " \t\r", &save)) words[n++] = w;
  *why = "expected: quirk gcm-params-v3 | gcm-token-iv | gcm-iv-after-tag | gcm-bad-tag <CKR> | unique-labels | no-notify";
  if (n < 2) return -1;
  static const struct { const char *name; unsigned flag; } QUIRKS[] = {
    {"gcm-params-v3", Q_GCM_PARAMS_V3}, {"gcm-token-iv", Q_GCM_TOKEN_IV}, {"gcm-iv-after-tag", Q_GCM_IV_AFTER_TAG},
    {"gcm-bad-tag", Q_GCM_BAD_TAG}, {"unique-labels", Q_UNIQUE_LABELS}, {"no-notify", Q_NO_NOTIFY},
  };
  for (size_t i = 0; i < sizeof QUIRKS / sizeof QUIRKS[0]; i++) {
    if (strcmp(words[1], QUIRKS[i].name) != 0) continue;
    if (QUIRKS[i].flag == Q_GCM_BAD_TAG) {
      if (n != 3 || parse_ckr(words[2], &out->bad_tag_ckr) != 0) { *why = "gcm-bad-tag needs a CKR name or number"; return -1; }
    } else if (n != 2) {
      return -1;
    }
    out->quirks |= QUIRKS[i].flag;
    return 0;
  }
  return -1;
}

/* Rules separated by newlines or ';'; '#' starts a comment. */
static void parse_rules(const char *text, struct ruleset *out, const char *origin) {
  out->n = 0;
  out->quirks = 0;
  out->bad_tag_ckr = CKR_OK;
  char *copy = strdup(text);
  if (!copy) return;
  int lineno = 0;
  for (char *save = NULL, *line = strtok_r(copy, "\n;", &save); line; line = strtok_r(NULL, "\n;", &save)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    while (isspace((unsigned char)*line)) line++;
    if (*line == '\0') continue;
    char shown[160];
    snprintf(shown, sizeof shown, "%s", line);
    const char *why;
    if (strncmp(line, "quirk", 5) == 0 && (line[5] == ' ' || line[5] == '\t' || line[5] == '\0')) {
      if (parse_quirk(line, out, &why) != 0) fprintf(stderr, "pkcs11-fault: %s: rule %d ignored (%s): %s\n", origin, lineno, why, shown);
      continue;
    }
    if (out->n >= MAX_RULES) {
      fprintf(stderr, "pkcs11-fault: %s: more than %d rules, the rest ignored\n", origin, MAX_RULES);
      break;
    }
    if (parse_rule(line, &out->r[out->n], &why) != 0) {
      fprintf(stderr, "pkcs11-fault: %s: rule %d ignored (%s): %s\n", origin, lineno, why, shown);
      continue;
    }
    out->n++;
  }
  free(copy);
}

static int matches(const char *pattern, const char *fn) {
  size_t len = strlen(pattern);
  if (len > 0 && pattern[len - 1] == '*') return strncmp(pattern, fn, len - 1) == 0;
  return strcmp(pattern, fn) == 0;
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Re-reads the control file when it changed (caller holds the lock). */
static void refresh_control(void) {
  if (!control_path) return;
  struct stat st;
  if (stat(control_path, &st) != 0) {
    if (control_present) { file_rules.n = 0; control_present = 0; memset(&control_seen, 0, sizeof control_seen); }
    return;
  }
  if (control_present && same_file(&st, &control_seen)) return;
  FILE *f = fopen(control_path, "r");
  if (!f) return; /* e.g. no descriptor free: keep the rules in force */
  char *buf = malloc(MAX_CONTROL_BYTES + 1);
  if (!buf) { fclose(f); return; }
  size_t len = fread(buf, 1, MAX_CONTROL_BYTES, f);
  fclose(f);
  buf[len] = '\0';
  parse_rules(buf, &file_rules, control_path);
  free(buf);
  control_seen = st;
  control_present = 1;
}

/* 1 when the control file is no longer the one seen at `since` (or the hang ran out). */
static int hang_over(const struct stat *since, int had_file, const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec)) return 1;
  if (!control_path) return 0;
  struct stat st;
  int has = stat(control_path, &st) == 0;
  if (has != had_file) return 1;
  return has && !same_file(&st, since);
}

static void sleep_us(unsigned long us) {
  struct timespec ts = {(time_t)(us / 1000000UL), (long)(us % 1000000UL) * 1000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Applies the rules for one call of `fn`. Returns 1 with *rv set when the call must fail, 2 when
 * a search must come back empty (C_FindObjects only; other functions go on to the real module). */
static int inject(const char *fn, CK_RV *rv) {
  unsigned long delay = 0;
  struct rule chosen;
  int have = 0;
  struct stat hang_from;
  memset(&chosen, 0, sizeof chosen);
  memset(&hang_from, 0, sizeof hang_from);
  int hang_had_file = 0;
  pthread_mutex_lock(&lock);
  refresh_control();
  struct ruleset *sets[2] = {&env_rules, &file_rules};
  for (int s = 0; s < 2; s++) {
    for (int i = 0; i < sets[s]->n; i++) {
      struct rule *r = &sets[s]->r[i];
      if (!matches(r->pattern, fn)) continue;
      if (r->action == ACT_DELAY) { delay += r->value; continue; }
      r->seen++;
      if (have || r->seen <= r->after || (r->times >= 0 && r->fired >= (unsigned long)r->times)) continue;
      r->fired++;
      chosen = *r;
      have = 1;
    }
  }
  if (have && chosen.action == ACT_HANG) {
    hang_had_file = control_present;
    hang_from = control_seen;
  }
  pthread_mutex_unlock(&lock);
  if (delay) sleep_us(delay);
  if (!have) return 0;
  if (chosen.action == ACT_FAIL) { *rv = chosen.value; return 1; }
  if (chosen.action == ACT_EMPTY) return 2;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += (time_t)(chosen.value / 1000UL);
  deadline.tv_nsec += (long)(chosen.value % 1000UL) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
  while (!hang_over(&hang_from, hang_had_file, &deadline)) {
    struct timespec ts = {0, HANG_POLL_NS};
    nanosleep(&ts, NULL);
  }
  return 0; /* the call that hung then goes to the real module */
}

/* ------------------------------------------------------------------ loading */

/* Settings beside the module: "<this module's path>.env", lines of NAME=VALUE. */
static char beside_env[4096];

/* A setting from the environment, else from the file beside the module. */
static const char *setting(const char *name) {
  const char *v = getenv(name);
  if (v) return v;
  size_t len = strlen(name);
  for (char *line = beside_env; *line;) {
    char *end = strchr(line, '\n');
    if (end) *end = '\0';
    const char *found = strncmp(line, name, len) == 0 && line[len] == '=' ? line + len + 1 : NULL;
    if (end) *end = '\n';
    if (found) {
      size_t n = end ? (size_t)(end - found) : strlen(found);
      char *copy = strndup(found, n);
      return copy;
    }
    if (!end) break;
    line = end + 1;
  }
  return NULL;
}

static void read_beside_env(void) {
  Dl_info info;
  if (!dladdr((void *)read_beside_env, &info) || !info.dli_fname) return;
  char file[4096];
  if (snprintf(file, sizeof file, "%s.env", info.dli_fname) >= (int)sizeof file) return;
  FILE *f = fopen(file, "r");
  if (!f) return;
  size_t len = fread(beside_env, 1, sizeof beside_env - 1, f);
  fclose(f);
  beside_env[len] = '\0';
}

static void load(void) {
  read_beside_env();
  const char *path = setting("CIOP_FAULT_REAL_MODULE");
  const char *rules = setting("CIOP_FAULT_RULES");
  const char *control = setting("CIOP_FAULT_CONTROL");
  if (rules && *rules) parse_rules(rules, &env_rules, "CIOP_FAULT_RULES");
  if (control && *control) control_path = strdup(control);
  if (!path || !*path) {
    fprintf(stderr, "pkcs11-fault: CIOP_FAULT_REAL_MODULE is not set: name the PKCS#11 module to forward to\n");
    load_error = CKR_GENERAL_ERROR;
    return;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "pkcs11-fault: cannot load %s: %s\n", path, dlerror());
    load_error = CKR_GENERAL_ERROR;
    return;
  }
  CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR) = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList");
  if (!get) {
    fprintf(stderr, "pkcs11-fault: %s has no C_GetFunctionList\n", path);
    load_error = CKR_GENERAL_ERROR;
    return;
  }
  CK_RV rv = get(&real);
  if (rv != CKR_OK || !real) {
    fprintf(stderr, "pkcs11-fault: C_GetFunctionList of %s returned 0x%lx\n", path, rv);
    real = NULL;
    load_error = rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
  }
}

/* ------------------------------------------------------------------ the function list */

/* What every function does first: without a real module, or when a "fail" rule acts, the call is
 * answered here. Declares rv. */
#define ENTER(fn)                                                  \
  CK_RV rv;                                                        \
  if (!real) return load_error ? load_error : CKR_GENERAL_ERROR; \
  if (inject(fn, &rv) == 1) return rv

static CK_FUNCTION_LIST list;

#define FORWARD(name, params, args) \
  static CK_RV fwd_##name params {  \
    ENTER(#name);                   \
    return real->name args;         \
  }
CK_EACH_FUNCTION(FORWARD)
#undef FORWARD

/* C_FindObjects also knows "empty": the search succeeds and finds nothing (what SoftHSM answers
 * when it cannot open its object files). */
static CK_RV find_objects(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c, CK_ULONG_PTR d) {
  CK_RV rv;
  if (!real) return load_error ? load_error : CKR_GENERAL_ERROR;
  int act = inject("C_FindObjects", &rv);
  if (act == 1) return rv;
  if (act == 2) {
    if (!d) return CKR_ARGUMENTS_BAD;
    *d = 0;
    return CKR_OK;
  }
  return real->C_FindObjects(a, b, c, d);
}

/* ------------------------------------------------------------------ vendor quirks */

#define CKM_AES_GCM 0x1087UL
#define CKA_TOKEN 0x1UL
#define CKA_LABEL 0x3UL
#define CKA_ID 0x102UL
#define CKR_HOST_MEMORY 0x2UL
#define CKR_FUNCTION_FAILED 0x6UL
#define CKR_ATTRIBUTE_VALUE_INVALID 0x13UL
#define CKR_ENCRYPTED_DATA_INVALID 0x40UL
#define CKR_MECHANISM_PARAM_INVALID 0x71UL
#define CKR_BUFFER_TOO_SMALL 0x150UL
#define GCM_IV_BYTES 12

/* The structures the quirks look into (the header keeps them opaque). */
struct mech { CK_MECHANISM_TYPE mechanism; void *pParameter; CK_ULONG ulParameterLen; };
struct attr { CK_ULONG type; void *pValue; CK_ULONG ulValueLen; };
/* CK_GCM_PARAMS as PKCS#11 v2.40 errata / v3.0 define it (what pkcs11js sends) */
struct gcm_v240 { CK_BYTE_PTR pIv; CK_ULONG ulIvLen; CK_ULONG ulIvBits; CK_BYTE_PTR pAAD; CK_ULONG ulAADLen; CK_ULONG ulTagBits; };
/* the short struct of the v2.40 header file (no ulIvBits) */
struct gcm_short { CK_BYTE_PTR pIv; CK_ULONG ulIvLen; CK_BYTE_PTR pAAD; CK_ULONG ulAADLen; CK_ULONG ulTagBits; };

/* The quirks in force (and the CKR of "gcm-bad-tag", when bad_tag is not NULL). */
static unsigned quirks_now(CK_RV *bad_tag) {
  pthread_mutex_lock(&lock);
  refresh_control();
  unsigned flags = env_rules.quirks | file_rules.quirks;
  if (bad_tag) *bad_tag = file_rules.quirks & Q_GCM_BAD_TAG ? file_rules.bad_tag_ckr : env_rules.bad_tag_ckr;
  pthread_mutex_unlock(&lock);
  return flags;
}

/* Per-session GCM state: the IV a Luna-style encryption appends, a GCM decryption under way. */
#define MAX_GCM_SESSIONS 1024
#define S_APPEND_IV 1
#define S_GCM_DECRYPT 2
static struct { CK_SESSION_HANDLE h; int state; CK_BYTE iv[GCM_IV_BYTES]; } gcm_sessions[MAX_GCM_SESSIONS];

/* Sets (state != 0) or clears the state of session h for `kind`; returns 0, or -1 when the table is full. */
static int session_set(CK_SESSION_HANDLE h, int kind, int on, const CK_BYTE *iv) {
  int rc = 0, free_slot = -1, i;
  pthread_mutex_lock(&lock);
  for (i = 0; i < MAX_GCM_SESSIONS; i++) {
    if (gcm_sessions[i].state && gcm_sessions[i].h == h) break;
    if (!gcm_sessions[i].state && free_slot < 0) free_slot = i;
  }
  if (i == MAX_GCM_SESSIONS) i = on ? free_slot : -1;
  if (i < 0) { rc = on ? -1 : 0; goto out; }
  gcm_sessions[i].h = h;
  if (on) gcm_sessions[i].state |= kind; else gcm_sessions[i].state &= ~kind;
  if (iv) memcpy(gcm_sessions[i].iv, iv, GCM_IV_BYTES);
out:
  pthread_mutex_unlock(&lock);
  return rc;
}

/* 1 when session h has the state `kind` (and its IV copied to iv, if asked). */
static int session_has(CK_SESSION_HANDLE h, int kind, CK_BYTE *iv) {
  int found = 0;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_GCM_SESSIONS; i++) {
    if ((gcm_sessions[i].state & kind) && gcm_sessions[i].h == h) {
      found = 1;
      if (iv) memcpy(iv, gcm_sessions[i].iv, GCM_IV_BYTES);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return found;
}

static int fill_random(CK_BYTE *out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) { if (errno == EINTR) continue; return -1; }
    out += got;
    n -= (size_t)got;
  }
  return 0;
}

/* Reads a GCM mechanism's parameters into the v2.40 struct, as the token of `flags` would. */
static CK_RV gcm_params(unsigned flags, const struct mech *m, struct gcm_v240 *p) {
  if (!m->pParameter) return CKR_MECHANISM_PARAM_INVALID;
  if (flags & Q_GCM_PARAMS_V3) {
    if (m->ulParameterLen != sizeof(struct gcm_short)) return CKR_MECHANISM_PARAM_INVALID;
    const struct gcm_short *s = m->pParameter;
    p->pIv = s->pIv;
    p->ulIvLen = s->ulIvLen;
    p->ulIvBits = s->ulIvLen * 8;
    p->pAAD = s->pAAD;
    p->ulAADLen = s->ulAADLen;
    p->ulTagBits = s->ulTagBits;
    return CKR_OK;
  }
  if (m->ulParameterLen != sizeof(struct gcm_v240)) return CKR_MECHANISM_PARAM_INVALID;
  memcpy(p, m->pParameter, sizeof *p);
  return CKR_OK;
}

static CK_RV encrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mp, CK_OBJECT_HANDLE k) {
  ENTER("C_EncryptInit");
  unsigned q = quirks_now(NULL);
  const struct mech *m = mp;
  session_set(s, S_APPEND_IV, 0, NULL);
  if (!m || m->mechanism != CKM_AES_GCM || !(q & (Q_GCM_PARAMS_V3 | Q_GCM_TOKEN_IV | Q_GCM_IV_AFTER_TAG)))
    return real->C_EncryptInit(s, mp, k);
  struct gcm_v240 p;
  rv = gcm_params(q, m, &p);
  if (rv != CKR_OK) return rv;
  CK_BYTE drawn[GCM_IV_BYTES];
  if (q & Q_GCM_TOKEN_IV) {
    /* a 12-byte zero IV that the token fills: the caller reads its IV from its own buffer */
    if (p.ulIvLen != GCM_IV_BYTES || !p.pIv) return CKR_MECHANISM_PARAM_INVALID;
    for (int i = 0; i < GCM_IV_BYTES; i++) if (p.pIv[i] != 0) return CKR_MECHANISM_PARAM_INVALID;
    if (fill_random(p.pIv, GCM_IV_BYTES) != 0) return CKR_FUNCTION_FAILED;
  } else if (q & Q_GCM_IV_AFTER_TAG) {
    /* an empty IV: the token draws one and appends it to the output */
    if (p.ulIvLen != 0) return CKR_MECHANISM_PARAM_INVALID;
    if (fill_random(drawn, sizeof drawn) != 0) return CKR_FUNCTION_FAILED;
    p.pIv = drawn;
    p.ulIvLen = GCM_IV_BYTES;
    p.ulIvBits = GCM_IV_BYTES * 8;
  }
  struct mech fwd = {CKM_AES_GCM, &p, sizeof p};
  rv = real->C_EncryptInit(s, (CK_MECHANISM_PTR)&fwd, k);
  if (rv == CKR_OK && (q & Q_GCM_IV_AFTER_TAG) && !(q & Q_GCM_TOKEN_IV) && session_set(s, S_APPEND_IV, 1, drawn) != 0) {
    real->C_EncryptInit(s, NULL, k); /* too many sessions to remember: end the operation */
    return CKR_HOST_MEMORY;
  }
  return rv;
}

/* Single-part encryption of a Luna-style session: ct || tag || IV, length queries included. */
static CK_RV encrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  ENTER("C_Encrypt");
  CK_BYTE iv[GCM_IV_BYTES];
  if (!session_has(s, S_APPEND_IV, iv)) return real->C_Encrypt(s, in, in_len, out, out_len);
  if (!out_len) return CKR_ARGUMENTS_BAD;
  CK_ULONG need = 0;
  rv = real->C_Encrypt(s, in, in_len, NULL, &need);
  if (rv != CKR_OK) { session_set(s, S_APPEND_IV, 0, NULL); return rv; }
  if (!out) { *out_len = need + GCM_IV_BYTES; return CKR_OK; }
  if (*out_len < need + GCM_IV_BYTES) { *out_len = need + GCM_IV_BYTES; return CKR_BUFFER_TOO_SMALL; }
  CK_ULONG got = *out_len - GCM_IV_BYTES;
  rv = real->C_Encrypt(s, in, in_len, out, &got);
  if (rv == CKR_BUFFER_TOO_SMALL) { *out_len = got + GCM_IV_BYTES; return rv; }
  session_set(s, S_APPEND_IV, 0, NULL);
  if (rv != CKR_OK) return rv;
  memcpy(out + got, iv, GCM_IV_BYTES);
  *out_len = got + GCM_IV_BYTES;
  return CKR_OK;
}

static CK_RV decrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mp, CK_OBJECT_HANDLE k) {
  ENTER("C_DecryptInit");
  unsigned q = quirks_now(NULL);
  const struct mech *m = mp;
  session_set(s, S_GCM_DECRYPT, 0, NULL);
  if (!m || m->mechanism != CKM_AES_GCM || !(q & (Q_GCM_PARAMS_V3 | Q_GCM_BAD_TAG))) return real->C_DecryptInit(s, mp, k);
  struct mech fwd = *m;
  struct gcm_v240 p;
  if (q & Q_GCM_PARAMS_V3) {
    rv = gcm_params(q, m, &p);
    if (rv != CKR_OK) return rv;
    fwd.pParameter = &p;
    fwd.ulParameterLen = sizeof p;
  }
  rv = real->C_DecryptInit(s, (CK_MECHANISM_PTR)&fwd, k);
  if (rv == CKR_OK && (q & Q_GCM_BAD_TAG)) session_set(s, S_GCM_DECRYPT, 1, NULL);
  return rv;
}

/* A failed GCM decryption (SoftHSM: CKR_GENERAL_ERROR) answers the CKR of "quirk gcm-bad-tag". */
static CK_RV decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  ENTER("C_Decrypt");
  if (!session_has(s, S_GCM_DECRYPT, NULL)) return real->C_Decrypt(s, in, in_len, out, out_len);
  rv = real->C_Decrypt(s, in, in_len, out, out_len);
  if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && !out)) return rv;
  session_set(s, S_GCM_DECRYPT, 0, NULL);
  CK_RV bad_tag;
  unsigned q = quirks_now(&bad_tag);
  if ((rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID) && (q & Q_GCM_BAD_TAG)) return bad_tag;
  return rv;
}

/* 1 when a token object other than `except` has attribute `a` with the same value (CloudHSM's rule). */
static int token_object_has(CK_SESSION_HANDLE s, const struct attr *a, CK_OBJECT_HANDLE except) {
  CK_BBOOL yes = 1;
  struct attr tmpl[2] = {{CKA_TOKEN, &yes, sizeof yes}, *a};
  if (real->C_FindObjectsInit(s, (CK_ATTRIBUTE_PTR)tmpl, 2) != CKR_OK) return 0; /* the real call will tell */
  int found = 0;
  CK_OBJECT_HANDLE h[8];
  CK_ULONG n = 0;
  while (!found && real->C_FindObjects(s, h, 8, &n) == CKR_OK && n > 0)
    for (CK_ULONG i = 0; i < n; i++) if (h[i] != except) found = 1;
  real->C_FindObjectsFinal(s);
  return found;
}

/* CKR_ATTRIBUTE_VALUE_INVALID when the template names a CKA_LABEL or CKA_ID a token object already has. */
static CK_RV unique_labels(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tp, CK_ULONG count, CK_OBJECT_HANDLE except) {
  if (!(quirks_now(NULL) & Q_UNIQUE_LABELS) || !tp) return CKR_OK;
  const struct attr *t = tp;
  for (CK_ULONG i = 0; i < count; i++)
    if ((t[i].type == CKA_LABEL || t[i].type == CKA_ID) && t[i].pValue && t[i].ulValueLen > 0 && token_object_has(s, &t[i], except))
      return CKR_ATTRIBUTE_VALUE_INVALID;
  return CKR_OK;
}

#define NO_OBJECT (~(CK_OBJECT_HANDLE)0)

static CK_RV create_object(CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d) {
  ENTER("C_CreateObject");
  if ((rv = unique_labels(a, b, c, NO_OBJECT)) != CKR_OK) return rv;
  return real->C_CreateObject(a, b, c, d);
}

static CK_RV copy_object(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_OBJECT_HANDLE_PTR e) {
  ENTER("C_CopyObject");
  if ((rv = unique_labels(a, c, d, NO_OBJECT)) != CKR_OK) return rv;
  return real->C_CopyObject(a, b, c, d, e);
}

static CK_RV set_attribute_value(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d) {
  ENTER("C_SetAttributeValue");
  if ((rv = unique_labels(a, c, d, b)) != CKR_OK) return rv;
  return real->C_SetAttributeValue(a, b, c, d);
}

static CK_RV generate_key(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_OBJECT_HANDLE_PTR e) {
  ENTER("C_GenerateKey");
  if ((rv = unique_labels(a, c, d, NO_OBJECT)) != CKR_OK) return rv;
  return real->C_GenerateKey(a, b, c, d, e);
}

static CK_RV generate_key_pair(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_ATTRIBUTE_PTR e, CK_ULONG f,
                               CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h) {
  ENTER("C_GenerateKeyPair");
  if ((rv = unique_labels(a, c, d, NO_OBJECT)) != CKR_OK) return rv;
  if ((rv = unique_labels(a, e, f, NO_OBJECT)) != CKR_OK) return rv;
  return real->C_GenerateKeyPair(a, b, c, d, e, f, g, h);
}

static CK_RV open_session(CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d, CK_SESSION_HANDLE_PTR e) {
  ENTER("C_OpenSession");
  if ((quirks_now(NULL) & Q_NO_NOTIFY) && d) return CKR_ARGUMENTS_BAD;
  return real->C_OpenSession(a, b, c, d, e);
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  if (!out) return CKR_ARGUMENTS_BAD;
  pthread_once(&once, load);
  if (!real) return load_error;
  pthread_mutex_lock(&lock);
  if (list.C_Initialize == NULL) {
#define FILL(name, params, args) list.name = fwd_##name;
    CK_EACH_FUNCTION(FILL)
#undef FILL
    list.C_GetFunctionList = C_GetFunctionList;
    list.C_FindObjects = find_objects;
    list.C_EncryptInit = encrypt_init;
    list.C_Encrypt = encrypt;
    list.C_DecryptInit = decrypt_init;
    list.C_Decrypt = decrypt;
    list.C_CreateObject = create_object;
    list.C_CopyObject = copy_object;
    list.C_SetAttributeValue = set_attribute_value;
    list.C_GenerateKey = generate_key;
    list.C_GenerateKeyPair = generate_key_pair;
    list.C_OpenSession = open_session;
    list.version = real->version;
  }
  pthread_mutex_unlock(&lock);
  *out = &list;
  return CKR_OK;
}
