/* config.c — aria.ini: the schema, parsing through inih, validation with
 * file:line messages, overrides and lookups.
 *
 * inih does the INI syntax; this file owns what the keys mean. Debian's inih
 * (r55) neither hands line numbers to the handler nor reads lines longer than
 * 200 bytes (it cuts them into pieces and parses each piece as a line), and it
 * treats an indented line as the continuation of the previous value. So
 * parsing goes through ini_parse_stream with our own reader, which returns
 * exactly one line to inih per line of the file, and:
 *   - counts lines, so the handler knows where the value it gets came from,
 *     and inih's "first bad line" is the real line number;
 *   - strips leading whitespace, so indented keys are keys;
 *   - keeps section headers itself (inih gets a placeholder), so names of
 *     any length are reported as written;
 *   - hands a long value to the handler itself: inih gets "key=" and the
 *     handler takes the value from the reader;
 *   - turns comments, blank lines, binary and overlong lines into empty lines
 *     after recording a message for the latter two. */
#include "config.h"
#include "router.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { SRC_DEFAULT, SRC_FILE, SRC_CMDLINE };

#define LINE_LIMIT  65536 /* longest line read, bytes; longer is an error */
#define ERROR_LIMIT 100   /* messages per file; past it, reading stops */
#define QUOTE_MAX   80    /* values are quoted in messages up to this long */
#define NAME_MAX_   64    /* longest plugin name in [plugin.NAME] */

typedef int (*check_fn)(const char *v, char *why, size_t cap);

enum { F_PATH = 1 }; /* a leading ~ means $HOME */

typedef struct spec {
    ari_config_key_info info;
    check_fn check; /* extra check of the value (of each item, for a LIST) */
    unsigned flags;
} spec;

/* ---- value checks ------------------------------------------------------ */

/* Writes "'VALUE'TAIL" into why, the value cut to QUOTE_MAX so that one bad
 * 60 KiB value still gives a readable line. Returns -1 for `return bad(...)`. */
static int bad(char *why, size_t cap, const char *v, const char *fmt, ...) ARIA_PRINTF(4, 5);
static int bad(char *why, size_t cap, const char *v, const char *fmt, ...)
{
    char tail[256];
    va_list ap;
    if (!why || !cap)
        return -1;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    if (strlen(v) > QUOTE_MAX)
        snprintf(why, cap, "'%.*s...'%s", QUOTE_MAX - 3, v, tail);
    else
        snprintf(why, cap, "'%s'%s", v, tail);
    return -1;
}

static int has_space(const char *v)
{
    for (; *v; v++)
        if (isspace((unsigned char)*v))
            return 1;
    return 0;
}

/* One item of an id list (plugin names, model ids, API keys). */
static int check_word(const char *v, char *why, size_t cap)
{
    return has_space(v) ? bad(why, cap, v, " contains whitespace") : 0;
}

/* HOST:PORT within v[0..n): HOST a name, an IPv4 address or a bracketed
 * IPv6 address. Returns the port, -1 when v is not of that shape, -2 when
 * the port is past 65535. */
static long parse_hostport(const char *v, size_t n)
{
    const char *end = v + n, *colon;
    if (n && v[0] == '[') {
        const char *close = memchr(v, ']', n);
        if (!close || close == v + 1 || close + 1 >= end || close[1] != ':')
            return -1;
        for (const char *p = v + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return -1;
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *p = v; p < end; p++)
            if (*p == ':')
                colon = p;
        if (!colon || colon == v)
            return -1;
        for (const char *p = v; p < colon; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
                return -1;
    }
    const char *p = colon + 1;
    size_t digits = 0;
    while (p + digits < end && isdigit((unsigned char)p[digits]))
        digits++;
    if (digits == 0 || p + digits != end)
        return -1;
    if (digits > 5)
        return -2;
    long port = 0;
    for (size_t i = 0; i < digits; i++)
        port = port * 10 + (p[i] - '0');
    return port > 65535 ? -2 : port;
}

static int check_hostport(const char *v, char *why, size_t cap)
{
    long port = parse_hostport(v, strlen(v));
    if (port == -1)
        return bad(why, cap, v, " is not HOST:PORT");
    if (port == -2)
        return bad(why, cap, v, ": the port is out of range 0..65535");
    return 0;
}

/* ws://HOST:PORT[/PATH] or wss://...; a peer to dial needs a real port. */
static int check_ws(const char *v, char *why, size_t cap, int dial)
{
    size_t skip = !strncmp(v, "ws://", 5) ? 5 : !strncmp(v, "wss://", 6) ? 6 : 0;
    const char *hp = v + skip;
    long port = skip && !has_space(v) ? parse_hostport(hp, strcspn(hp, "/")) : -1;
    if (port == -1)
        return bad(why, cap, v, " is not a ws:// or wss:// URL (ws://HOST:PORT)");
    if (port == -2)
        return bad(why, cap, v, ": the port is out of range 0..65535");
    if (dial && port == 0)
        return bad(why, cap, v, ": port 0 cannot be dialed");
    return 0;
}

static int check_ws_listen(const char *v, char *why, size_t cap)
{
    return check_ws(v, why, cap, 0);
}

static int check_ws_dial(const char *v, char *why, size_t cap)
{
    return check_ws(v, why, cap, 1);
}

/* [kernels]: auto, or the ISA part of a kernel plugin's name. The variants
 * that exist are known only once plugins load, so here only the shape. */
static int check_variant(const char *v, char *why, size_t cap)
{
    size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0 || v[n] || n > 32)
        return bad(why, cap, v, " is not auto or a variant name (scalar, avx2, avx512, neon, ...)");
    return 0;
}

/* "HH:MM", 00:00..24:00, at s; minutes since midnight, or -1. */
static int parse_hhmm(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (i == 2 ? s[i] != ':' : !isdigit((unsigned char)s[i]))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m))
        return -1;
    return h * 60 + m;
}

/* Walks a schedule: "always", or daily windows "HH:MM-HH:MM,..." in local
 * time, a window whose end is before its start crossing midnight. Returns -1
 * when it is not valid (the reason in why, if given), else 1 when minute
 * (minutes since midnight) is inside a window, else 0. One function for
 * validation and for consent, so the two can never disagree. */
static int schedule_scan(const char *v, int minute, char *why, size_t cap)
{
    char item[64];
    int in = 0;
    if (!strcmp(v, "always"))
        return 1;
    for (const char *p = v;;) {
        size_t l = strcspn(p, ","), a = 0, b = l;
        while (a < b && isspace((unsigned char)p[a]))
            a++;
        while (b > a && isspace((unsigned char)p[b - 1]))
            b--;
        snprintf(item, sizeof item, "%.*s", (int)(b - a), p + a);
        int start = b - a == 11 && item[5] == '-' ? parse_hhmm(item) : -1;
        int end = start >= 0 ? parse_hhmm(item + 6) : -1;
        if (!strcmp(item, "always"))
            return bad(why, cap, v, ": 'always' cannot be combined with windows");
        if (start < 0 || end < 0 || start == 1440)
            return bad(why, cap, item, " is not a daily window HH:MM-HH:MM (or 'always')");
        if (start == end)
            return bad(why, cap, item, " is an empty window (start equals end)");
        if (start < end ? minute >= start && minute < end : minute >= start || minute < end)
            in = minute >= 0;
        if (!p[l])
            break;
        p += l + 1;
    }
    return in;
}

static int check_schedule(const char *v, char *why, size_t cap)
{
    return schedule_scan(v, -1, why, cap) < 0 ? -1 : 0;
}

/* A step of a router fallback chain: MODEL or TIER:MODEL. */
static int check_route(const char *v, char *why, size_t cap)
{
    const char *colon = strchr(v, ':'), *model = v;
    if (colon)
        model = ari_tier_parse(v, (size_t)(colon - v)) ? colon + 1 : "";
    if (!model[0] || has_space(model))
        return bad(why, cap, v,
                   " is not MODEL or TIER:MODEL (TIER one of efficiency|quality|specialist)");
    return 0;
}

/* MODEL_ID:FIRST-LAST, layers counted from 0, both ends held. */
static int check_layers(const char *v, char *why, size_t cap)
{
    const char *colon = strrchr(v, ':');
    const char *a = colon ? colon + 1 : "";
    size_t na = strspn(a, "0123456789");
    const char *b = a + na + (a[na] == '-');
    size_t nb = strspn(b, "0123456789");
    if (!colon || colon == v || has_space(v) || !na || a[na] != '-' || !nb || b[nb] || na > 6 ||
        nb > 6)
        return bad(why, cap, v, " is not MODEL_ID:FIRST-LAST");
    if (atol(a) > atol(b))
        return bad(why, cap, v, ": FIRST is after LAST");
    return 0;
}

/* ---- the schema -------------------------------------------------------- */

#define KEY(s, k, t, d, lo, hi, ch, u, chk, fl, help)                                              \
    {                                                                                              \
        {s, k, t, d, lo, hi, ch, u, help}, chk, fl                                                 \
    }
#define STR(s, k, d, chk, fl, help)   KEY(s, k, ARIA_CFG_STRING, d, 0, 0, NULL, "", chk, fl, help)
#define INT(s, k, d, lo, hi, u, help) KEY(s, k, ARIA_CFG_INT, d, lo, hi, NULL, u, NULL, 0, help)
#define DBL(s, k, d, lo, hi, u, help) KEY(s, k, ARIA_CFG_DOUBLE, d, lo, hi, NULL, u, NULL, 0, help)
#define BOOL(s, k, d, help)           KEY(s, k, ARIA_CFG_BOOL, d, 0, 0, NULL, "", NULL, 0, help)
#define ENUM(s, k, d, ch, help)       KEY(s, k, ARIA_CFG_ENUM, d, 0, 0, ch, "", NULL, 0, help)
#define LIST(s, k, d, ch, chk, help)  KEY(s, k, ARIA_CFG_LIST, d, 0, 0, ch, "", chk, 0, help)

#define TASK_TYPES "chat|completion|code|reasoning|embedding|pipeline|validation"

static const spec schema[] = {
    STR("node", "name", "", NULL, 0, "name shown to peers; empty: the host name"),
    STR("node", "data_dir", "~/.local/share/aria", NULL, F_PATH,
        "identity key, ledger and models; one node per directory"),
    ENUM("node", "log_level", "info", "error|warn|info|debug", "least severe level logged"),
    INT("node", "threads", "0", 0, 1024, "threads",
        "inference worker threads; 0: one per physical core"),

    ENUM("profile", "name", "efficient", "minimal|efficient|balanced|full|specialist_only",
         "which model tiers this node serves"),

    STR("plugins", "dir", "", NULL, F_PATH,
        "plugin directory; empty: the --plugins flag, else the install dir"),
    LIST("plugins", "enable", "", NULL, check_word, "load only these plugins; empty: all"),
    LIST("plugins", "disable", "", NULL, check_word, "never load these plugins"),

    STR("kernels", "gguf", "auto", check_variant, 0,
        "kernel variant for GGUF quantized types: auto or an ISA name"),
    STR("kernels", "ternary", "auto", check_variant, 0,
        "kernel variant for ternary types: auto or an ISA name"),

    STR("api", "listen", "127.0.0.1:3000", check_hostport, 0,
        "HOST:PORT of the OpenAI-compatible HTTP API"),
    INT("api", "max_body_kb", "1024", 1, 65536, "KiB", "largest request body accepted"),
    LIST("api", "api_keys", "", NULL, check_word, "Bearer keys accepted; empty: no authentication"),
    INT("api", "slots_per_model", "2", 1, 256, "requests", "requests one model runs at once"),
    INT("api", "queue_depth", "64", 0, 100000, "requests",
        "requests that may wait for a slot; more get HTTP 429"),
    INT("api", "request_timeout_s", "600", 1, 86400, "s", "longest a request may run"),

    LIST("network", "listen", "ws://0.0.0.0:7700", NULL, check_ws_listen,
         "peer-to-peer listen URLs, ws:// or wss://"),
    LIST("network", "bootstrap", "", NULL, check_ws_dial, "peers dialed at start"),
    INT("network", "max_peers", "32", 1, 10000, "peers", "most peers kept connected"),
    STR("network", "tls_cert", "", NULL, F_PATH, "PEM certificate for wss:// listeners"),
    STR("network", "tls_key", "", NULL, F_PATH, "PEM private key for wss:// listeners"),
    STR("network", "tls_ca", "", NULL, F_PATH,
        "PEM CA bundle to verify peers' certificates; empty: do not verify"),
    INT("network", "max_message_mb", "64", 1, 1024, "MiB", "largest message accepted from a peer"),
    INT("network", "ping_interval_s", "20", 1, 3600, "s", "ping a quiet peer this often"),
    INT("network", "peer_timeout_s", "30", 2, 3600, "s", "a peer silent this long is dead"),

    INT("consent", "cpu_percent", "50", 1, 100, "%", "share of the CPU given to peers' work"),
    INT("consent", "max_ram_mb", "4096", 0, 16777216, "MiB",
        "largest model memory peers' work may use"),
    STR("consent", "schedule", "always", check_schedule, 0,
        "when peers' work is accepted: always, or daily windows HH:MM-HH:MM (local time)"),
    LIST("consent", "task_types", "chat,completion,code,reasoning,pipeline", TASK_TYPES, NULL,
         "kinds of peers' work accepted"),
    DBL("consent", "max_bandwidth_mbps", "0", 0, 100000, "Mbit/s", "peer traffic cap; 0: none"),
    BOOL("consent", "apply_to_local", "false", "bind local API users by these limits too"),

    BOOL("ledger", "enabled", "true", "record every inference, signed, on the ledger"),
    STR("ledger", "path", "", NULL, F_PATH, "ledger database; empty: DATA_DIR/ledger.db"),
    INT("ledger", "block_records", "64", 1, 100000, "records", "seal a block every N records"),
    INT("ledger", "block_seconds", "60", 1, 86400, "s",
        "or every N seconds while records are pending"),
    BOOL("ledger", "validator", "false", "spot-check peers by re-running a sample of their work"),
    DBL("ledger", "spot_check_rate", "0.05", 0, 1, "fraction", "share of peers' records re-run"),
    DBL("ledger", "core_watts", "15", 0, 1000, "W",
        "power per busy core for energy estimates without RAPL"),
    DBL("ledger", "reward_base_rate", "1.0", 0, 1e9, "credits",
        "reward per completed inference, before quality and efficiency factors"),

    LIST("router", "code", "", NULL, check_route, "fallback chain for code queries"),
    LIST("router", "reasoning", "", NULL, check_route, "fallback chain for reasoning queries"),
    LIST("router", "vision", "", NULL, check_route, "fallback chain for queries with images"),
    LIST("router", "multilingual", "", NULL, check_route,
         "fallback chain for queries not in English"),
    LIST("router", "chat", "", NULL, check_route, "fallback chain for everything else"),

    STR("models", "dir", "", NULL, F_PATH, "model files; empty: DATA_DIR/models"),
    INT("models", "max_memory_mb", "0", 0, 16777216, "MiB",
        "memory for loaded models; 0: 80% of RAM"),
    LIST("models", "preload", "", NULL, check_word, "model ids loaded at start"),
    INT("models", "ctx_size", "4096", 0, 1048576, "positions",
        "context of each slot; 0: the model's trained context"),
    STR("models", "catalog", "", NULL, F_PATH, "model catalog file; empty: the built-in one"),
    INT("models", "replication", "3", 1, 16, "replicas", "replicas kept per pipeline layer range"),
    LIST("models", "layers", "", NULL, check_layers,
         "layer ranges held for pipelines: MODEL_ID:FIRST-LAST"),
    ENUM("models", "activations", "f16", "f16|f32",
         "element type of the hidden states a pipeline sends between nodes"),
};

#define N_SCHEMA (sizeof schema / sizeof schema[0])

/* A [kernels] key beyond gguf and ternary: a family a kernel plugin brings. */
static const spec kernel_family =
    STR("kernels", "*", "auto", check_variant, 0, "kernel variant for a plugin's family");

/* ---- storage ----------------------------------------------------------- */

typedef struct entry {
    char *section, *key;
    char *value;      /* NULL: unset */
    int source, line; /* SRC_*; line for SRC_FILE */
    const char *file; /* for SRC_FILE: one of cfg->files */
    const spec *sp;   /* how to check it; NULL: a plugin key not declared yet */
    spec *own;        /* a plugin's declaration, copied: the plugin may be unloaded */
    int dead;         /* reported as unknown; ignored from then on */
} entry;

typedef struct message {
    char *text;
    int line; /* for ordering a file's messages; 0 when it has none */
} message;

struct ari_config {
    entry *e;
    size_t n, cap;
    message *err;
    size_t n_err, cap_err;
    char **files; /* every file loaded, for entries to point into */
    size_t n_files;
    char **claimed; /* plugins that declared their keys */
    size_t n_claimed;
};

static void add_error(ari_config *c, int line, const char *fmt, ...) ARIA_PRINTF(3, 4);
static void add_error(ari_config *c, int line, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c->n_err == c->cap_err) {
        size_t cap = c->cap_err ? c->cap_err * 2 : 8;
        message *v = realloc(c->err, cap * sizeof *v);
        if (!v)
            return;
        c->err = v;
        c->cap_err = cap;
    }
    char *s = strdup(buf);
    if (!s)
        return;
    c->err[c->n_err].text = s;
    c->err[c->n_err].line = line;
    c->n_err++;
}

static entry *find(const ari_config *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].section, section) && !strcmp(c->e[i].key, key))
            return &c->e[i];
    return NULL;
}

static char *expand_home(const char *v)
{
    if (v[0] != '~' || (v[1] != '/' && v[1] != '\0'))
        return strdup(v);
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        const struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return strdup(v);
    size_t n = strlen(home) + strlen(v);
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", home, v + 1);
    return s;
}

static entry *add_entry(ari_config *c, const char *section, const char *key, const spec *sp)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        entry *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne)
            return NULL;
        c->e = ne;
        c->cap = cap;
    }
    entry *e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    e->section = strdup(section);
    e->key = strdup(key);
    e->sp = sp;
    if (!e->section || !e->key) {
        free(e->section);
        free(e->key);
        return NULL;
    }
    c->n++;
    return e;
}

/* value NULL: unset. */
static aria_err set_value(entry *e, const char *value, int source, const char *file, int line)
{
    char *v = NULL;
    if (value) {
        v = e->sp && (e->sp->flags & F_PATH) ? expand_home(value) : strdup(value);
        if (!v)
            return ARIA_ERR_NOMEM;
    }
    free(e->value);
    e->value = v;
    e->source = source;
    e->file = file;
    e->line = line;
    return ARIA_OK;
}

static void free_spec(spec *s)
{
    if (!s)
        return;
    free((char *)s->info.section);
    free((char *)s->info.key);
    free((char *)s->info.def);
    free((char *)s->info.choices);
    free((char *)s->info.help);
    free(s);
}

ari_config *ari_config_new(void)
{
    ari_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < N_SCHEMA; i++) {
        entry *e = add_entry(c, schema[i].info.section, schema[i].info.key, &schema[i]);
        if (!e || set_value(e, schema[i].info.def, SRC_DEFAULT, NULL, 0) != ARIA_OK) {
            ari_config_free(c);
            return NULL;
        }
    }
    return c;
}

void ari_config_free(ari_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].section);
        free(c->e[i].key);
        free(c->e[i].value);
        free_spec(c->e[i].own);
    }
    for (size_t i = 0; i < c->n_err; i++)
        free(c->err[i].text);
    for (size_t i = 0; i < c->n_files; i++)
        free(c->files[i]);
    for (size_t i = 0; i < c->n_claimed; i++)
        free(c->claimed[i]);
    free(c->e);
    free(c->err);
    free(c->files);
    free(c->claimed);
    free(c);
}

/* ---- validation -------------------------------------------------------- */

static int parse_bool(const char *v)
{
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off",
                                                                             "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, t[i]))
            return 1;
        if (!strcasecmp(v, f[i]))
            return 0;
    }
    return -1;
}

static int in_choices(const char *choices, const char *v, size_t n)
{
    for (const char *p = choices; p && *p;) {
        size_t l = strcspn(p, "|");
        if (l == n && !strncmp(p, v, n))
            return 1;
        p += l + (p[l] == '|');
    }
    return 0;
}

/* Items are trimmed; empty items ("a,,b", a trailing comma) are skipped. */
static int validate_list(const spec *sp, const char *v, char *why, size_t cap)
{
    int rc = 0;
    char *copy = strdup(v);
    if (!copy) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    for (char *p = copy; rc == 0;) {
        size_t l = strcspn(p, ",");
        int last = p[l] == '\0';
        char *item = p, *end = p + l;
        p[l] = '\0';
        while (isspace((unsigned char)*item))
            item++;
        while (end > item && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (item[0] && sp->info.choices && !in_choices(sp->info.choices, item, strlen(item)))
            rc = bad(why, cap, item, " is not one of %s", sp->info.choices);
        else if (item[0] && sp->check)
            rc = sp->check(item, why, cap);
        if (last)
            break;
        p += l + 1;
    }
    free(copy);
    return rc;
}

/* Checks v against a key's type and range; writes the problem (the part
 * after "[section] key: ") into why. */
static int validate(const spec *sp, const char *v, char *why, size_t cap)
{
    const ari_config_key_info *k = &sp->info;
    char *end;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            snprintf(why, cap, "the value holds a control character (byte 0x%02x)", *p);
            return -1;
        }
    switch (k->type) {
    case ARIA_CFG_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || isspace((unsigned char)*v))
            return bad(why, cap, v, " is not an integer");
        if (errno || (double)x < k->min || (double)x > k->max)
            return bad(why, cap, v, " is out of range %.15g..%.15g", k->min, k->max);
        return 0;
    }
    case ARIA_CFG_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || isspace((unsigned char)*v) || isnan(x))
            return bad(why, cap, v, " is not a number");
        if (x < k->min || x > k->max)
            return bad(why, cap, v, " is out of range %.15g..%.15g", k->min, k->max);
        return 0;
    }
    case ARIA_CFG_BOOL:
        return parse_bool(v) < 0 ? bad(why, cap, v, " is not a boolean (true/false)") : 0;
    case ARIA_CFG_ENUM:
        if (!in_choices(k->choices, v, strlen(v)))
            return bad(why, cap, v, " is not one of %s", k->choices ? k->choices : "");
        return 0;
    case ARIA_CFG_LIST: return validate_list(sp, v, why, cap);
    default: return sp->check ? sp->check(v, why, cap) : 0;
    }
}

/* Levenshtein distance, for "did you mean"; names past 64 bytes are far. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65], prev;
    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            prev = row[j];
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    }
    return row[lb];
}

static int plugin_name_ok(const char *name)
{
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-");
    return n > 0 && !name[n] && n <= NAME_MAX_;
}

static int is_plugin_section(const char *s)
{
    return !strncmp(s, "plugin.", 7) && plugin_name_ok(s + 7);
}

static int known_section(const char *s)
{
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (!strcmp(schema[i].info.section, s))
            return 1;
    return is_plugin_section(s);
}

static const char *suggest_section(const char *s)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < N_SCHEMA; i++) {
        size_t d = edit_distance(s, schema[i].info.section);
        if (d < bd) {
            bd = d;
            best = schema[i].info.section;
        }
    }
    return best;
}

/* The declared key of section nearest to key, within 2 edits. */
static const char *suggest_key(const ari_config *c, const char *section, const char *key)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].section, section) || !c->e[i].sp || c->e[i].dead)
            continue;
        size_t d = edit_distance(key, c->e[i].key);
        if (d < bd) {
            bd = d;
            best = c->e[i].key;
        }
    }
    return best;
}

static void unknown_key(const ari_config *c, const char *section, const char *key, char *why,
                        size_t cap)
{
    const char *s = suggest_key(c, section, key);
    if (s)
        snprintf(why, cap, "[%s] unknown key '%s' (did you mean '%s'?)", section, key, s);
    else
        snprintf(why, cap, "[%s] unknown key '%s'", section, key);
}

static int claimed(const ari_config *c, const char *plugin)
{
    for (size_t i = 0; i < c->n_claimed; i++)
        if (!strcmp(c->claimed[i], plugin))
            return 1;
    return 0;
}

/* Checks value for [section] key (section known) and, when it passes, stores
 * it. On a problem writes the whole message but for file:line into why. */
static aria_err assign(ari_config *c, const char *section, const char *key, const char *value,
                       int source, const char *file, int line, char *why, size_t cap)
{
    char w[512];
    entry *e = find(c, section, key);
    if (!e || e->dead) {
        if (is_plugin_section(section) && !claimed(c, section + 7)) {
            /* Kept as read until the plugin declares its keys. */
            if (!e && !(e = add_entry(c, section, key, NULL)))
                return ARIA_ERR_NOMEM;
            e->dead = 0;
            return set_value(e, value, source, file, line);
        }
        /* A family a kernel plugin brings, unless it looks like a typo of
         * one we know. */
        if (!e && !strcmp(section, "kernels") && !suggest_key(c, section, key) &&
            !check_variant(key, w, sizeof w)) {
            if (validate(&kernel_family, value, w, sizeof w)) {
                snprintf(why, cap, "[%s] %s: %.300s", section, key, w);
                return ARIA_ERR_INVALID;
            }
            if (!(e = add_entry(c, section, key, &kernel_family)))
                return ARIA_ERR_NOMEM;
            return set_value(e, value, source, file, line);
        }
        unknown_key(c, section, key, why, cap);
        return ARIA_ERR_NOT_FOUND;
    }
    if (e->sp && validate(e->sp, value, w, sizeof w)) {
        snprintf(why, cap, "[%s] %s: %.300s", section, key, w);
        return ARIA_ERR_INVALID;
    }
    return set_value(e, value, source, file, line);
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct seen_key {
    char *section, *key;
    int line;
} seen_key;

typedef struct parse_state {
    ari_config *c;
    FILE *f;
    const char *path; /* as given, for messages */
    const char *file; /* cfg's copy, for entries */
    char *buf;        /* one line of the file, LINE_LIMIT + 1 bytes */
    int line;
    int read_errno;   /* set when reading failed */
    int stop;         /* too many messages: stop reading */
    size_t before;    /* c->n_err when this file started */
    char *section;    /* the current section as written; NULL before any */
    int section_ok;   /* it is known */
    char *long_value; /* the value of `line`, when too long for inih */
    int long_line;
    seen_key *seen; /* keys this file set, to report duplicates */
    size_t n_seen, cap_seen;
} parse_state;

/* Copies p[0..n) (cut to inih's buffer) and a newline into inih's buffer. */
static char *give(char *str, int num, const char *p, size_t n)
{
    if (n > (size_t)num - 2)
        n = (size_t)num - 2;
    memcpy(str, p, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static char *section_line(parse_state *ps, char *str, int num, char *p)
{
    char *close = strchr(p, ']');
    if (!close)
        return give(str, num, "[", 1); /* inih reports it as a syntax error */
    char *name = p + 1;
    *close = '\0';
    while (isspace((unsigned char)*name))
        name++;
    for (char *e = close; e > name && isspace((unsigned char)e[-1]);)
        *--e = '\0';
    free(ps->section);
    ps->section = strdup(name);
    ps->section_ok = ps->section && known_section(name);
    if (!ps->section_ok) {
        const char *s = suggest_section(name);
        int cut = strlen(name) > QUOTE_MAX;
        add_error(ps->c, ps->line, "%s:%d: unknown section [%.*s%s]%s%s%s", ps->path, ps->line,
                  QUOTE_MAX, name, cut ? "..." : "", s ? " (did you mean [" : "", s ? s : "",
                  s ? "]?)" : "");
    }
    /* The handler reads the section from ps, so inih needs only to know one
     * began. */
    return give(str, num, "[s]", 3);
}

/* A key line too long for inih's buffer: inih gets "KEY=" and the handler
 * takes the value from ps. Key, delimiter and value are found as inih finds
 * them, so a long line means what it would mean if it were short. */
static char *long_line(parse_state *ps, char *str, int num, char *p, size_t len)
{
    size_t k = 0;
    int was_space = 0;
    for (; p[k] && p[k] != '=' && p[k] != ':'; k++) {
        if (was_space && p[k] == ';')
            break;
        was_space = isspace((unsigned char)p[k]);
    }
    if (p[k] != '=' && p[k] != ':')
        return give(str, num, p, len); /* no delimiter: a syntax error, cut or not */
    if (k + 3 > (size_t)num)
        return give(str, num, p, (size_t)num - 2); /* a key this long: the same */
    char *v = p + k + 1, *end;
    was_space = 0;
    for (end = v; *end && !(was_space && *end == ';'); end++)
        was_space = isspace((unsigned char)*end);
    *end = '\0';
    while (isspace((unsigned char)*v))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        *--end = '\0';
    free(ps->long_value);
    ps->long_value = strdup(v);
    ps->long_line = ps->long_value ? ps->line : 0;
    memcpy(str, p, k);
    memcpy(str + k, "=\n", 3);
    return str;
}

/* inih's reader: exactly one line of the file per call (see the top). */
static char *reader(char *str, int num, void *stream)
{
    parse_state *ps = stream;
    size_t n = 0;
    int ch, nul = 0, over = 0;
    if (ps->stop || num < 8)
        return NULL;
    while ((ch = getc(ps->f)) != EOF && ch != '\n') {
        nul |= ch == '\0';
        if (n < LINE_LIMIT)
            ps->buf[n++] = (char)ch;
        else
            over = 1;
    }
    if (ch == EOF && ferror(ps->f)) {
        ps->read_errno = errno ? errno : EIO;
        return NULL;
    }
    if (ch == EOF && n == 0)
        return NULL;
    ps->buf[n] = '\0';
    ps->line++;
    if (ps->c->n_err - ps->before >= ERROR_LIMIT) {
        add_error(ps->c, ps->line, "%s:%d: too many problems; stopped reading here", ps->path,
                  ps->line);
        ps->stop = 1;
        return NULL;
    }
    if (over) {
        add_error(ps->c, ps->line, "%s:%d: line too long (over %d bytes)", ps->path, ps->line,
                  LINE_LIMIT);
        return give(str, num, "", 0);
    }
    if (nul) {
        add_error(ps->c, ps->line, "%s:%d: not text (NUL byte)", ps->path, ps->line);
        return give(str, num, "", 0);
    }
    char *p = ps->buf;
    if (ps->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
        p += 3; /* UTF-8 byte order mark */
    while (isspace((unsigned char)*p))
        p++;
    size_t len = strlen(p);
    while (len && isspace((unsigned char)p[len - 1]))
        p[--len] = '\0';
    if (*p == '\0' || *p == ';' || *p == '#')
        return give(str, num, "", 0);
    if (*p == '[')
        return section_line(ps, str, num, p);
    if (len + 2 <= (size_t)num)
        return give(str, num, p, len);
    return long_line(ps, str, num, p, len);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parse_state *ps = user;
    ari_config *c = ps->c;
    char why[512];
    (void)section; /* ps->section is the one as written (see section_line) */
    if (ps->long_line == ps->line)
        value = ps->long_value;
    if (!key[0]) {
        add_error(c, ps->line, "%s:%d: syntax error", ps->path, ps->line);
        return 1;
    }
    if (!ps->section) {
        add_error(c, ps->line, "%s:%d: key '%s' outside any section", ps->path, ps->line, key);
        return 1;
    }
    if (!ps->section_ok)
        return 1; /* reported once, at its header */
    for (size_t i = 0; i < ps->n_seen; i++)
        if (!strcmp(ps->seen[i].section, ps->section) && !strcmp(ps->seen[i].key, key)) {
            add_error(c, ps->line, "%s:%d: [%s] %s: duplicate key (first set on line %d)", ps->path,
                      ps->line, ps->section, key, ps->seen[i].line);
            return 1;
        }
    if (ps->n_seen == ps->cap_seen) {
        size_t cap = ps->cap_seen ? ps->cap_seen * 2 : 32;
        seen_key *v = realloc(ps->seen, cap * sizeof *v);
        if (!v)
            return 0;
        ps->seen = v;
        ps->cap_seen = cap;
    }
    seen_key *s = &ps->seen[ps->n_seen];
    s->section = strdup(ps->section);
    s->key = strdup(key);
    s->line = ps->line;
    if (!s->section || !s->key) {
        free(s->section);
        free(s->key);
        return 0;
    }
    ps->n_seen++;
    aria_err rc = assign(c, ps->section, key, value, SRC_FILE, ps->file, ps->line, why, sizeof why);
    if (rc == ARIA_ERR_NOMEM)
        return 0;
    if (rc != ARIA_OK)
        add_error(c, ps->line, "%s:%d: %s", ps->path, ps->line, why);
    return 1;
}

/* inih reports only its first syntax error, after the fact: put it among
 * this file's other messages in line order. */
static void insert_syntax_error(ari_config *c, size_t before, const char *path, int line)
{
    add_error(c, line, "%s:%d: syntax error", path, line);
    if (c->n_err <= before)
        return;
    message m = c->err[c->n_err - 1];
    size_t at = c->n_err - 1;
    while (at > before && c->err[at - 1].line > line)
        at--;
    memmove(&c->err[at + 1], &c->err[at], (c->n_err - 1 - at) * sizeof m);
    c->err[at] = m;
}

aria_err ari_config_load(ari_config *c, const char *path)
{
    aria_err rc = ARIA_OK;
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    if (!c || !path)
        return ARIA_ERR_INVALID;
    ps.c = c;
    ps.path = path;
    ps.before = c->n_err;
    ps.f = fopen(path, "r");
    if (!ps.f) {
        add_error(c, 0, "%s: cannot read: %s", path, strerror(errno));
        return ARIA_ERR_IO;
    }
    char **files = realloc(c->files, (c->n_files + 1) * sizeof *files);
    if (files)
        c->files = files;
    ps.buf = malloc(LINE_LIMIT + 1);
    if (!files || !ps.buf || !(c->files[c->n_files] = strdup(path))) {
        add_error(c, 0, "%s: out of memory", path);
        rc = ARIA_ERR_NOMEM;
        goto out;
    }
    ps.file = c->files[c->n_files++];

    int first_bad = ini_parse_stream(reader, &ps, handler, &ps);
    if (ps.read_errno) {
        add_error(c, 0, "%s: cannot read: %s", path, strerror(ps.read_errno));
        rc = ARIA_ERR_IO;
        goto out;
    }
    if (first_bad > 0)
        insert_syntax_error(c, ps.before, path, first_bad);
    else if (first_bad < 0)
        add_error(c, 0, "%s: out of memory", path);
    rc = c->n_err > ps.before ? ARIA_ERR_INVALID : ARIA_OK;
out:
    fclose(ps.f);
    for (size_t i = 0; i < ps.n_seen; i++) {
        free(ps.seen[i].section);
        free(ps.seen[i].key);
    }
    free(ps.seen);
    free(ps.section);
    free(ps.long_value);
    free(ps.buf);
    return rc;
}

aria_err ari_config_set(ari_config *c, const char *section, const char *key, const char *value,
                        aria_msg *why)
{
    char w[512];
    if (!c || !section || !key || !value)
        return aria_fail(why, ARIA_ERR_INVALID, "no section, key or value");
    if (!known_section(section)) {
        const char *s = suggest_section(section);
        return aria_fail(why, ARIA_ERR_NOT_FOUND, "unknown section [%s]%s%s%s", section,
                         s ? " (did you mean [" : "", s ? s : "", s ? "]?)" : "");
    }
    /* Trimmed as a file's value would be; what a file could not hold is
     * refused, so that the dump stays a file that reads back the same. */
    while (isspace((unsigned char)*value))
        value++;
    size_t n = strlen(value);
    while (n && isspace((unsigned char)value[n - 1]))
        n--;
    char *v = strndup(value, n);
    if (!v)
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    aria_err rc = ARIA_OK;
    for (size_t i = 1; i < n; i++)
        if (v[i] == ';' && isspace((unsigned char)v[i - 1])) {
            rc = aria_fail(why, ARIA_ERR_INVALID,
                           "[%s] %s: a value cannot hold ' ;' (it starts a comment in aria.ini)",
                           section, key);
            goto out;
        }
    rc = assign(c, section, key, v, SRC_CMDLINE, NULL, 0, w, sizeof w);
    if (rc == ARIA_ERR_NOMEM)
        aria_fail(why, rc, "out of memory");
    else if (rc != ARIA_OK)
        aria_fail(why, rc, "%s", w);
out:
    free(v);
    return rc;
}

/* ---- plugin sections --------------------------------------------------- */

static spec *spec_from_plugin(const char *section, const aria_cfg_key *k)
{
    spec *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->info.section = strdup(section);
    s->info.key = strdup(k->key);
    s->info.type = k->type;
    s->info.def = k->def ? strdup(k->def) : NULL;
    s->info.min = k->min;
    s->info.max = k->max;
    s->info.choices = k->choices ? strdup(k->choices) : NULL;
    s->info.unit = "";
    s->info.help = strdup(k->help ? k->help : "");
    if (!s->info.section || !s->info.key || (k->def && !s->info.def) ||
        (k->choices && !s->info.choices) || !s->info.help) {
        free_spec(s);
        return NULL;
    }
    return s;
}

/* "PATH:LINE" or "command line", for messages about an entry. */
static void where(const entry *e, char *out, size_t cap)
{
    if (e->source == SRC_FILE)
        snprintf(out, cap, "%s:%d", e->file, e->line);
    else
        snprintf(out, cap, "command line");
}

aria_err ari_config_add_plugin_schema(ari_config *c, const char *plugin, const aria_cfg_key *keys,
                                      size_t n)
{
    char section[8 + NAME_MAX_], at[4200], why[512];
    if (!c || !plugin || !plugin_name_ok(plugin) || (n && !keys))
        return ARIA_ERR_INVALID;
    snprintf(section, sizeof section, "plugin.%s", plugin);
    size_t before = c->n_err;
    if (!claimed(c, plugin)) {
        char **v = realloc(c->claimed, (c->n_claimed + 1) * sizeof *v);
        if (!v)
            return ARIA_ERR_NOMEM;
        c->claimed = v;
        if (!(c->claimed[c->n_claimed] = strdup(plugin)))
            return ARIA_ERR_NOMEM;
        c->n_claimed++;
    }
    for (size_t i = 0; i < n; i++) {
        const aria_cfg_key *k = &keys[i];
        if (!k->key || !k->key[0])
            continue; /* nothing to check against */
        spec *sp = spec_from_plugin(section, k);
        if (!sp)
            return ARIA_ERR_NOMEM;
        entry *e = find(c, section, k->key);
        if (!e && !(e = add_entry(c, section, k->key, NULL))) {
            free_spec(sp);
            return ARIA_ERR_NOMEM;
        }
        free_spec(e->own);
        e->own = sp;
        e->sp = sp;
        if (e->dead || e->source == SRC_DEFAULT || !e->value) {
            e->dead = 0;
            if (set_value(e, k->def, SRC_DEFAULT, NULL, 0) != ARIA_OK)
                return ARIA_ERR_NOMEM;
            continue;
        }
        if (validate(sp, e->value, why, sizeof why)) {
            where(e, at, sizeof at);
            add_error(c, e->line, "%s: [%s] %s: %s", at, section, e->key, why);
            if (set_value(e, k->def, SRC_DEFAULT, NULL, 0) != ARIA_OK)
                return ARIA_ERR_NOMEM;
        }
    }
    /* Keys the file or command line set that the plugin does not declare. */
    for (size_t i = 0; i < c->n; i++) {
        entry *e = &c->e[i];
        if (strcmp(e->section, section) || e->sp || e->dead)
            continue;
        where(e, at, sizeof at);
        unknown_key(c, section, e->key, why, sizeof why);
        add_error(c, e->line, "%s: %s", at, why);
        e->dead = 1;
    }
    return c->n_err > before ? ARIA_ERR_INVALID : ARIA_OK;
}

aria_err ari_config_check_unclaimed(ari_config *c)
{
    size_t before = c->n_err;
    for (size_t i = 0; i < c->n; i++) {
        const entry *e = &c->e[i];
        if (e->dead || e->sp || !is_plugin_section(e->section) || claimed(c, e->section + 7))
            continue;
        int reported = 0;
        for (size_t j = 0; j < i && !reported; j++)
            reported = !strcmp(c->e[j].section, e->section) && !c->e[j].dead && !c->e[j].sp;
        if (reported)
            continue;
        char at[4200];
        where(e, at, sizeof at);
        add_error(c, e->line, "%s: [%s] no plugin named '%s' is loaded", at, e->section,
                  e->section + 7);
    }
    return c->n_err > before ? ARIA_ERR_NOT_FOUND : ARIA_OK;
}

/* ---- lookups ----------------------------------------------------------- */

const char *ari_config_get(const ari_config *c, const char *section, const char *key)
{
    const entry *e = c && section && key ? find(c, section, key) : NULL;
    return e && !e->dead ? e->value : NULL;
}

long long ari_config_get_int(const ari_config *c, const char *section, const char *key,
                             long long fallback)
{
    const char *v = ari_config_get(c, section, key);
    char *end;
    if (!v || !*v)
        return fallback;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    return *end || errno ? fallback : x;
}

int ari_config_get_bool(const ari_config *c, const char *section, const char *key, int fallback)
{
    const char *v = ari_config_get(c, section, key);
    int b = v ? parse_bool(v) : -1;
    return b < 0 ? fallback : b;
}

double ari_config_get_double(const ari_config *c, const char *section, const char *key,
                             double fallback)
{
    const char *v = ari_config_get(c, section, key);
    char *end;
    if (!v || !*v)
        return fallback;
    double x = strtod(v, &end);
    return *end ? fallback : x;
}

int ari_config_list_has(const ari_config *c, const char *section, const char *key, const char *item)
{
    const char *v = ari_config_get(c, section, key);
    size_t n = item ? strlen(item) : 0;
    for (const char *p = v; p && *p && n;) {
        size_t l = strcspn(p, ","), a = 0, b = l;
        while (a < b && isspace((unsigned char)p[a]))
            a++;
        while (b > a && isspace((unsigned char)p[b - 1]))
            b--;
        if (b - a == n && !strncmp(p + a, item, n))
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

int ari_config_schedule_allows(const char *schedule, int minute_of_day)
{
    if (!schedule || minute_of_day < 0 || minute_of_day >= 1440)
        return 0;
    return schedule_scan(schedule, minute_of_day, NULL, 0) == 1;
}

size_t ari_config_n_errors(const ari_config *c)
{
    return c ? c->n_err : 0;
}

const char *ari_config_error(const ari_config *c, size_t i)
{
    return c && i < c->n_err ? c->err[i].text : NULL;
}

const char *ari_config_path(const ari_config *c)
{
    return c && c->n_files ? c->files[c->n_files - 1] : NULL;
}

/* ---- dump -------------------------------------------------------------- */

static void dump_entry(const ari_config *c, const entry *e, FILE *out)
{
    char at[4200];
    (void)c;
    if (!e->value) {
        fprintf(out, "; %s (unset)\n", e->key);
        return;
    }
    if (e->source == SRC_DEFAULT)
        snprintf(at, sizeof at, "default");
    else
        where(e, at, sizeof at);
    /* "key =;x" keeps ";x" as the value, where "key = ;x" would be a comment. */
    fprintf(out, "%s =%s%s  ; %s\n", e->key, e->value[0] == ';' ? "" : " ", e->value, at);
}

void ari_config_dump(const ari_config *c, FILE *out)
{
    /* Sections in the order their first key was created: the schema's, then
     * plugins' in the order met. */
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->e[i].section;
        int done = 0;
        for (size_t j = 0; j < i && !done; j++)
            done = !strcmp(c->e[j].section, s);
        if (done)
            continue;
        int any = 0;
        for (size_t j = i; j < c->n && !any; j++)
            any = !strcmp(c->e[j].section, s) && !c->e[j].dead;
        if (!any)
            continue;
        fprintf(out, "%s[%s]\n", i ? "\n" : "", s);
        if (is_plugin_section(s) && !claimed(c, s + 7))
            fprintf(out, "; not checked: no loaded plugin has declared these keys\n");
        for (size_t j = i; j < c->n; j++)
            if (!strcmp(c->e[j].section, s) && !c->e[j].dead)
                dump_entry(c, &c->e[j], out);
    }
}

size_t ari_config_schema_count(void)
{
    return N_SCHEMA;
}

const ari_config_key_info *ari_config_schema_key(size_t i)
{
    return i < N_SCHEMA ? &schema[i].info : NULL;
}

void ari_config_schema_at(size_t i, const char **section, const char **key, const char **def,
                          const char **help)
{
    const ari_config_key_info *k = ari_config_schema_key(i);
    if (section)
        *section = k ? k->section : NULL;
    if (key)
        *key = k ? k->key : NULL;
    if (def)
        *def = k ? k->def : NULL;
    if (help)
        *help = k ? k->help : NULL;
}
