/* config.c — aria.ini: the schema, parsing through inih, validation with
 * file:line messages, overrides and lookups.
 *
 * inih does the INI syntax; this file owns what the keys mean. Debian's inih
 * does not hand line numbers to the handler, so parsing goes through
 * ini_parse_stream with a reader that counts the lines it returns: when the
 * handler runs, the counter names the line it came from. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef int (*check_fn)(const char *v, char *why, size_t cap);

typedef struct spec {
    const char *section, *key;
    uint32_t type; /* aria_cfg_type */
    const char *def;
    double min, max;
    const char *choices;
    const char *help;
    check_fn check; /* extra syntax check of the whole value (or each list item) */
} spec;

/* ---- value checks ------------------------------------------------------ */

static int check_hostport(const char *v, char *why, size_t cap)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == v || colon[1] == '\0' || *end || port < 0 || port > 65535) {
        snprintf(why, cap, "'%s' is not HOST:PORT (port 0-65535)", v);
        return -1;
    }
    return 0;
}

static int check_ws_url(const char *v, char *why, size_t cap)
{
    const char *rest = !strncmp(v, "ws://", 5) ? v + 5 : !strncmp(v, "wss://", 6) ? v + 6 : NULL;
    if (!rest || !strchr(rest, ':')) {
        snprintf(why, cap, "'%s' is not a ws://HOST:PORT or wss://HOST:PORT URL", v);
        return -1;
    }
    return 0;
}

static int parse_hhmm(const char *s, int *min)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m))
        return -1;
    *min = h * 60 + m;
    return 0;
}

/* "always", or daily windows "HH:MM-HH:MM" (local time); a window whose end
 * is before its start crosses midnight. */
static int check_window(const char *v, char *why, size_t cap)
{
    int a, b;
    if (!strcmp(v, "always"))
        return 0;
    if (strlen(v) != 11 || v[5] != '-' || parse_hhmm(v, &a) || parse_hhmm(v + 6, &b) || a == b) {
        snprintf(why, cap, "'%s' is not a daily window HH:MM-HH:MM (or 'always')", v);
        return -1;
    }
    return 0;
}

/* A route step: "MODEL" or "TIER:MODEL". */
static int check_route(const char *v, char *why, size_t cap)
{
    const char *colon = strchr(v, ':');
    if (colon) {
        size_t n = (size_t)(colon - v);
        if (!((n == 10 && !strncmp(v, "efficiency", n)) || (n == 7 && !strncmp(v, "quality", n)) ||
              (n == 10 && !strncmp(v, "specialist", n))) || !colon[1]) {
            snprintf(why, cap, "'%s' is not MODEL or TIER:MODEL (tier efficiency, quality or "
                     "specialist)", v);
            return -1;
        }
    }
    return 0;
}

/* "MODEL_ID:FIRST-LAST" (layers, inclusive). */
static int check_layers(const char *v, char *why, size_t cap)
{
    const char *colon = strrchr(v, ':');
    char *e1, *e2;
    long a = colon ? strtol(colon + 1, &e1, 10) : -1;
    long b = (colon && *e1 == '-') ? strtol(e1 + 1, &e2, 10) : -1;
    if (!colon || colon == v || a < 0 || b < a || *e1 != '-' || *e2) {
        snprintf(why, cap, "'%s' is not MODEL_ID:FIRST-LAST", v);
        return -1;
    }
    return 0;
}

#define I(s, k, d, lo, hi, h) {s, k, ARIA_CFG_INT, d, lo, hi, NULL, h, NULL}
#define D(s, k, d, lo, hi, h) {s, k, ARIA_CFG_DOUBLE, d, lo, hi, NULL, h, NULL}
#define B(s, k, d, h) {s, k, ARIA_CFG_BOOL, d, 0, 0, NULL, h, NULL}
#define S(s, k, d, c, h) {s, k, ARIA_CFG_STRING, d, 0, 0, NULL, h, c}
#define E(s, k, d, ch, h) {s, k, ARIA_CFG_ENUM, d, 0, 0, ch, h, NULL}
#define L(s, k, d, c, h) {s, k, ARIA_CFG_LIST, d, 0, 0, NULL, h, c}

static const spec schema[] = {
    S("node", "name", "", NULL, "name shown to peers; empty: the host name"),
    S("node", "data_dir", "~/.local/share/aria", NULL,
      "keys, ledger and models live here; one node per directory"),
    E("node", "log_level", "info", "error|warn|info|debug", "least severe level logged"),
    I("node", "threads", "0", 0, 1024, "worker threads for inference; 0: one per physical core"),

    E("profile", "name", "efficient", "minimal|efficient|balanced|full|specialist_only",
      "which tiers this node serves"),

    S("plugins", "dir", "", NULL, "plugin directory; empty: --plugins or the install dir"),
    L("plugins", "enable", "", NULL, "load only these plugins (by name); empty: all"),
    L("plugins", "disable", "", NULL, "never load these plugins (by name)"),

    S("kernels", "gguf", "auto", NULL, "kernel variant for GGUF types: auto or an ISA name"),
    S("kernels", "ternary", "auto", NULL, "kernel variant for ternary types: auto or an ISA name"),

    S("api", "listen", "127.0.0.1:3000", check_hostport, "HOST:PORT of the OpenAI-compatible API"),
    I("api", "max_body_kb", "1024", 1, 65536, "largest request body accepted, KiB"),
    L("api", "api_keys", "", NULL, "Bearer keys accepted; empty: no authentication"),
    I("api", "slots_per_model", "2", 1, 256, "requests a model runs at once"),
    I("api", "queue_depth", "64", 0, 100000, "requests that may wait for a slot; more get 429"),
    I("api", "request_timeout_s", "600", 1, 86400, "longest a request may run, seconds"),

    L("network", "listen", "ws://0.0.0.0:7700", check_ws_url, "peer-to-peer listen URLs"),
    L("network", "bootstrap", "", check_ws_url, "peers dialed at start"),
    I("network", "max_peers", "32", 1, 10000, "most peers kept connected"),
    S("network", "tls_cert", "", NULL, "PEM certificate for wss://"),
    S("network", "tls_key", "", NULL, "PEM private key for wss://"),
    S("network", "tls_ca", "", NULL, "PEM CA bundle to verify peers; empty: do not verify"),
    I("network", "max_message_mb", "64", 1, 1024, "largest peer message, MiB"),
    I("network", "ping_interval_s", "20", 1, 3600, "ping a quiet peer every N seconds"),
    I("network", "peer_timeout_s", "30", 2, 3600, "a peer silent this long is dead, seconds"),

    I("consent", "cpu_percent", "50", 1, 100, "share of the CPU given to work from peers, %"),
    I("consent", "max_ram_mb", "4096", 0, 16777216, "largest model memory for peers' work, MiB"),
    L("consent", "schedule", "always", check_window,
      "daily windows HH:MM-HH:MM (local time) when peers' work is accepted, or always"),
    L("consent", "task_types", "chat,completion,code,reasoning,pipeline", NULL,
      "kinds of peers' work accepted: chat, completion, code, reasoning, embedding, pipeline, "
      "validation"),
    D("consent", "max_bandwidth_mbps", "0", 0, 100000, "peer traffic cap, Mbit/s; 0: none"),
    B("consent", "apply_to_local", "false", "bind the local API users by these limits too"),

    B("ledger", "enabled", "true", "record every inference on the ledger"),
    S("ledger", "path", "", NULL, "ledger database; empty: DATA_DIR/ledger.db"),
    I("ledger", "block_records", "64", 1, 100000, "seal a block every N records"),
    I("ledger", "block_seconds", "60", 1, 86400, "or every N seconds with records pending"),
    B("ledger", "validator", "false", "spot-check peers by re-running a sample of their work"),
    D("ledger", "spot_check_rate", "0.05", 0, 1, "fraction of peers' records re-run"),
    D("ledger", "core_watts", "15", 0, 1000, "power per busy core for energy estimates, W"),
    D("ledger", "reward_base_rate", "1.0", 0, 1e9, "reward per completed inference"),

    L("router", "code", "", check_route, "fallback chain for code queries: MODEL or TIER:MODEL"),
    L("router", "reasoning", "", check_route, "fallback chain for reasoning queries"),
    L("router", "vision", "", check_route, "fallback chain for queries with images"),
    L("router", "multilingual", "", check_route, "fallback chain for non-English queries"),
    L("router", "chat", "", check_route, "fallback chain for everything else"),

    S("models", "dir", "", NULL, "model files; empty: DATA_DIR/models"),
    I("models", "max_memory_mb", "0", 0, 16777216, "memory for loaded models, MiB; 0: 80% of RAM"),
    L("models", "preload", "", NULL, "model ids loaded at start"),
    S("models", "catalog", "", NULL, "catalog file; empty: the built-in catalog"),
    I("models", "replication", "3", 1, 16, "replicas kept per pipeline layer range"),
    L("models", "layers", "", check_layers, "layer ranges held: MODEL_ID:FIRST-LAST"),
};

#define N_SCHEMA (sizeof schema / sizeof schema[0])

/* ---- storage ----------------------------------------------------------- */

typedef struct entry {
    char *section, *key, *value;
    int source; /* 0 default, 1 file, 2 command line */
    int line;
    const spec *sp;            /* NULL for a plugin key not yet declared */
    const aria_cfg_key *pk;    /* the plugin's declaration, once known */
} entry;

struct ari_config {
    entry *e;
    size_t n, cap;
    char **errors;
    size_t n_errors, cap_errors;
    char *path;
    char **plugin_sections; /* [plugin.NAME] seen in the file, not yet declared */
    size_t n_plugin_sections;
};

static void add_error(ari_config *c, const char *fmt, ...) ARIA_PRINTF(2, 3);
static void add_error(ari_config *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c->n_errors == c->cap_errors) {
        size_t cap = c->cap_errors ? c->cap_errors * 2 : 8;
        char **v = realloc(c->errors, cap * sizeof *v);
        if (!v)
            return;
        c->errors = v;
        c->cap_errors = cap;
    }
    char *s = strdup(buf);
    if (s)
        c->errors[c->n_errors++] = s;
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
    const char *home = getenv("HOME");
    if (v[0] == '~' && (v[1] == '/' || v[1] == '\0') && home) {
        size_t n = strlen(home) + strlen(v);
        char *s = malloc(n);
        if (s)
            snprintf(s, n, "%s%s", home, v + 1);
        return s;
    }
    return strdup(v);
}

static entry *put(ari_config *c, const char *section, const char *key, const char *value,
                  int source, int line)
{
    entry *e = find(c, section, key);
    char *v = expand_home(value);
    if (!v)
        return NULL;
    if (e) {
        free(e->value);
        e->value = v;
        e->source = source;
        e->line = line;
        return e;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        entry *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne) {
            free(v);
            return NULL;
        }
        c->e = ne;
        c->cap = cap;
    }
    e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = v;
    e->source = source;
    e->line = line;
    if (!e->section || !e->key) {
        free(e->section);
        free(e->key);
        free(v);
        return NULL;
    }
    c->n++;
    return e;
}

ari_config *ari_config_new(void)
{
    ari_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < N_SCHEMA; i++) {
        entry *e = put(c, schema[i].section, schema[i].key, schema[i].def, 0, 0);
        if (!e) {
            ari_config_free(c);
            return NULL;
        }
        e->sp = &schema[i];
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
    }
    for (size_t i = 0; i < c->n_errors; i++)
        free(c->errors[i]);
    for (size_t i = 0; i < c->n_plugin_sections; i++)
        free(c->plugin_sections[i]);
    free(c->plugin_sections);
    free(c->errors);
    free(c->e);
    free(c->path);
    free(c);
}

/* ---- validation -------------------------------------------------------- */

static int parse_bool(const char *v)
{
    static const char *t[] = {"true", "yes", "on", "1"}, *f[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, t[i]))
            return 1;
        if (!strcasecmp(v, f[i]))
            return 0;
    }
    return -1;
}

static void trim_item(const char *s, size_t n, char *out, size_t cap)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Checks value against a key's type and range; writes the problem (the part
 * after "[section] key: ") into why. */
static int validate(uint32_t type, double min, double max, const char *choices, check_fn check,
                    const char *v, char *why, size_t cap)
{
    char *end;
    switch (type) {
    case ARIA_CFG_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno) {
            snprintf(why, cap, "'%s' is not an integer", v);
            return -1;
        }
        if ((double)x < min || (double)x > max) {
            snprintf(why, cap, "'%s' is out of range %.0f..%.0f", v, min, max);
            return -1;
        }
        return 0;
    }
    case ARIA_CFG_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || !isfinite(x)) {
            snprintf(why, cap, "'%s' is not a number", v);
            return -1;
        }
        if (x < min || x > max) {
            snprintf(why, cap, "'%s' is out of range %g..%g", v, min, max);
            return -1;
        }
        return 0;
    }
    case ARIA_CFG_BOOL:
        if (parse_bool(v) < 0) {
            snprintf(why, cap, "'%s' is not a boolean (true/false)", v);
            return -1;
        }
        return 0;
    case ARIA_CFG_ENUM: {
        size_t n = strlen(v);
        for (const char *p = choices; p && *p;) {
            size_t l = strcspn(p, "|");
            if (l == n && !strncmp(p, v, n))
                return 0;
            p += l + (p[l] == '|');
        }
        snprintf(why, cap, "'%s' is not one of %s", v, choices ? choices : "");
        return -1;
    }
    case ARIA_CFG_LIST:
        if (check)
            for (const char *p = v; *p;) {
                size_t l = strcspn(p, ",");
                char item[512];
                trim_item(p, l, item, sizeof item);
                if (item[0] && check(item, why, cap))
                    return -1;
                p += l + (p[l] == ',');
            }
        return 0;
    default:
        return check && v[0] ? check(v, why, cap) : 0;
    }
}

static int validate_entry(const entry *e, const char *v, char *why, size_t cap)
{
    if (e->sp)
        return validate(e->sp->type, e->sp->min, e->sp->max, e->sp->choices, e->sp->check, v, why,
                        cap);
    if (e->pk)
        return validate(e->pk->type, e->pk->min, e->pk->max, e->pk->choices, NULL, v, why, cap);
    return 0;
}

/* Levenshtein distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static int known_section(const char *s)
{
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (!strcmp(schema[i].section, s))
            return 1;
    return !strncmp(s, "plugin.", 7) && s[7];
}

static const char *suggest_key(const ari_config *c, const char *section, const char *key)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].section, section) || (!c->e[i].sp && !c->e[i].pk))
            continue;
        size_t d = edit_distance(key, c->e[i].key);
        if (d < bd) {
            bd = d;
            best = c->e[i].key;
        }
    }
    return best;
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct parse_state {
    ari_config *c;
    FILE *f;
    const char *path;
    int line;
    char section[128];
    int section_line;
    /* keys set by this file, to report duplicates: (entry index, line) */
    struct {
        char *section, *key;
        int line;
    } *seen;
    size_t n_seen, cap_seen;
} parse_state;

/* inih's reader: one line per call, counted. A section header is checked
 * here, because inih does not report sections without keys. */
static char *reader(char *str, int num, void *stream)
{
    parse_state *ps = stream;
    char *r = fgets(str, num, ps->f);
    if (!r)
        return NULL;
    size_t n = strlen(r);
    /* A line longer than inih's buffer comes in pieces: count it once. */
    if (n == 0 || r[n - 1] == '\n' || feof(ps->f))
        ps->line++;
    const char *p = r;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (end) {
            size_t l = (size_t)(end - p - 1);
            char name[128];
            trim_item(p + 1, l, name, sizeof name);
            if (!known_section(name))
                add_error(ps->c, "%s:%d: unknown section [%s]", ps->path, ps->line, name);
            snprintf(ps->section, sizeof ps->section, "%s", name);
            ps->section_line = ps->line;
        }
    }
    return r;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    parse_state *ps = user;
    ari_config *c = ps->c;
    if (!section[0]) {
        add_error(c, "%s:%d: key '%s' outside any section", ps->path, ps->line, key);
        return 1;
    }
    if (!known_section(section))
        return 1; /* reported once, at its header */
    for (size_t i = 0; i < ps->n_seen; i++)
        if (!strcmp(ps->seen[i].section, section) && !strcmp(ps->seen[i].key, key)) {
            add_error(c, "%s:%d: [%s] %s: duplicate key (first set on line %d)", ps->path,
                      ps->line, section, key, ps->seen[i].line);
            return 1;
        }
    if (ps->n_seen == ps->cap_seen) {
        size_t cap = ps->cap_seen ? ps->cap_seen * 2 : 32;
        void *v = realloc(ps->seen, cap * sizeof *ps->seen);
        if (!v)
            return 0;
        ps->seen = v;
        ps->cap_seen = cap;
    }
    ps->seen[ps->n_seen].section = strdup(section);
    ps->seen[ps->n_seen].key = strdup(key);
    ps->seen[ps->n_seen].line = ps->line;
    ps->n_seen++;

    entry *e = find(c, section, key);
    int plugin = !strncmp(section, "plugin.", 7);
    if (!e && plugin) { /* kept as read until the plugin declares its keys */
        put(c, section, key, value, 1, ps->line);
        return 1;
    }
    if (!e && !strcmp(section, "kernels")) { /* a family a plugin brings */
        put(c, section, key, value, 1, ps->line);
        return 1;
    }
    if (!e || (!e->sp && !e->pk && !plugin)) {
        const char *s = suggest_key(c, section, key);
        if (s)
            add_error(c, "%s:%d: [%s] unknown key '%s' (did you mean '%s'?)", ps->path, ps->line,
                      section, key, s);
        else
            add_error(c, "%s:%d: [%s] unknown key '%s'", ps->path, ps->line, section, key);
        return 1;
    }
    char why[256];
    if (validate_entry(e, value, why, sizeof why)) {
        add_error(c, "%s:%d: [%s] %s: %s", ps->path, ps->line, section, key, why);
        return 1;
    }
    put(c, section, key, value, 1, ps->line);
    return 1;
}

aria_err ari_config_load(ari_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        add_error(c, "%s: cannot read: %s", path, strerror(errno));
        return ARIA_ERR_IO;
    }
    free(c->path);
    c->path = strdup(path);
    size_t before = c->n_errors;
    parse_state ps = {.c = c, .f = f, .path = path};
    int rc = ini_parse_stream(reader, &ps, handler, &ps);
    fclose(f);
    if (rc > 0)
        add_error(c, "%s:%d: syntax error", path, rc);
    else if (rc < 0)
        add_error(c, "%s: cannot parse (out of memory)", path);
    for (size_t i = 0; i < ps.n_seen; i++) {
        free(ps.seen[i].section);
        free(ps.seen[i].key);
    }
    free(ps.seen);
    return c->n_errors > before ? ARIA_ERR_INVALID : ARIA_OK;
}

aria_err ari_config_set(ari_config *c, const char *section, const char *key, const char *value,
                        aria_msg *why)
{
    entry *e = find(c, section, key);
    int plugin = (!strncmp(section, "plugin.", 7) && section[7]) || !strcmp(section, "kernels");
    if (!known_section(section))
        return aria_fail(why, ARIA_ERR_NOT_FOUND, "unknown section [%s]", section);
    if (!e && !plugin) {
        const char *s = suggest_key(c, section, key);
        return aria_fail(why, ARIA_ERR_NOT_FOUND, "[%s] unknown key '%s'%s%s%s", section, key,
                         s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    char w[256];
    if (e && validate_entry(e, value, w, sizeof w))
        return aria_fail(why, ARIA_ERR_INVALID, "[%s] %s: %s", section, key, w);
    if (!put(c, section, key, value, 2, 0))
        return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
    return ARIA_OK;
}

aria_err ari_config_add_plugin_schema(ari_config *c, const char *plugin, const aria_cfg_key *keys,
                                      size_t n)
{
    char section[128];
    snprintf(section, sizeof section, "plugin.%s", plugin);
    size_t before = c->n_errors;
    for (size_t i = 0; i < n; i++) {
        entry *e = find(c, section, keys[i].key);
        if (!e) {
            e = put(c, section, keys[i].key, keys[i].def ? keys[i].def : "", 0, 0);
            if (e)
                e->pk = &keys[i];
            continue;
        }
        e->pk = &keys[i];
        char why[256];
        if (validate_entry(e, e->value, why, sizeof why)) {
            add_error(c, "%s:%d: [%s] %s: %s", c->path ? c->path : "(command line)", e->line,
                      section, e->key, why);
            free(e->value);
            e->value = strdup(keys[i].def ? keys[i].def : "");
            e->source = 0;
        }
    }
    /* Keys the file set that the plugin does not declare. */
    for (size_t i = 0; i < c->n; i++) {
        entry *e = &c->e[i];
        if (strcmp(e->section, section) || e->pk)
            continue;
        add_error(c, "%s:%d: [%s] unknown key '%s'", c->path ? c->path : "(command line)", e->line,
                  section, e->key);
        e->line = -1; /* reported; ignored from now on */
    }
    return c->n_errors > before ? ARIA_ERR_INVALID : ARIA_OK;
}

/* ---- lookups ----------------------------------------------------------- */

const char *ari_config_get(const ari_config *c, const char *section, const char *key)
{
    const entry *e = c ? find(c, section, key) : NULL;
    return e && e->line >= 0 ? e->value : NULL;
}

long long ari_config_get_int(const ari_config *c, const char *section, const char *key,
                             long long fallback)
{
    const char *v = ari_config_get(c, section, key);
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    return v && *v && !*end ? x : fallback;
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
    double x = v ? strtod(v, &end) : 0;
    return v && *v && !*end ? x : fallback;
}

int ari_config_list_has(const ari_config *c, const char *section, const char *key,
                        const char *item)
{
    const char *v = ari_config_get(c, section, key);
    for (const char *p = v; p && *p;) {
        size_t l = strcspn(p, ",");
        char it[256];
        trim_item(p, l, it, sizeof it);
        if (!strcmp(it, item))
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

size_t ari_config_n_errors(const ari_config *c)
{
    return c->n_errors;
}

const char *ari_config_error(const ari_config *c, size_t i)
{
    return i < c->n_errors ? c->errors[i] : NULL;
}

const char *ari_config_path(const ari_config *c)
{
    return c->path;
}

void ari_config_dump(const ari_config *c, FILE *out)
{
    /* Sections in schema order, then plugin sections in the order seen. */
    const char *done[64];
    size_t n_done = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->e[i].section;
        int seen = 0;
        for (size_t j = 0; j < n_done; j++)
            seen |= !strcmp(done[j], s);
        if (seen || n_done == 64)
            continue;
        done[n_done++] = s;
        fprintf(out, "%s[%s]\n", n_done > 1 ? "\n" : "", s);
        for (size_t j = 0; j < c->n; j++) {
            const entry *e = &c->e[j];
            if (strcmp(e->section, s) || e->line < 0)
                continue;
            if (e->source == 1)
                fprintf(out, "%s = %s  ; %s:%d\n", e->key, e->value, c->path ? c->path : "?",
                        e->line);
            else
                fprintf(out, "%s = %s  ; %s\n", e->key, e->value,
                        e->source == 2 ? "command line" : "default");
        }
    }
}

size_t ari_config_schema_count(void)
{
    return N_SCHEMA;
}

void ari_config_schema_at(size_t i, const char **section, const char **key, const char **def,
                          const char **help)
{
    *section = schema[i].section;
    *key = schema[i].key;
    *def = schema[i].def;
    *help = schema[i].help;
}
