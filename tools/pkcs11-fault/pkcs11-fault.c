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

struct ruleset {
  struct rule r[MAX_RULES];
  int n;
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

/* Rules separated by newlines or ';'; '#' starts a comment. */
static void parse_rules(const char *text, struct ruleset *out, const char *origin) {
  out->n = 0;
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

static CK_FUNCTION_LIST list;

#define FORWARD(name, params, args)                         \
  static CK_RV fwd_##name params {                          \
    CK_RV rv;                                               \
    if (!real) return load_error ? load_error : CKR_GENERAL_ERROR; \
    if (inject(#name, &rv) == 1) return rv;                 \
    return real->name args;                                 \
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
    list.version = real->version;
  }
  pthread_mutex_unlock(&lock);
  *out = &list;
  return CKR_OK;
}
