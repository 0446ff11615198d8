/* router.c — query classes and the routing decision (see router.h). */
#include "router.h"

#include <aria/common.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *const ari_class_names[ARI_N_CLASSES] = {"code", "reasoning", "vision", "multilingual",
                                                    "chat"};

/* ---- classifier -------------------------------------------------------- */

/* Words that, in a query, point at programming. */
static const char *const code_words[] = {
    "python", "javascript", "typescript", "java", "rust", "golang", "c++", "sql", "bash",
    "function", "functions", "method", "class", "variable", "compile", "compiler", "compiles",
    "segfault", "stacktrace", "traceback", "exception", "debug", "bug", "refactor", "regex",
    "api", "json", "yaml", "html", "css", "react", "npm", "pip", "git", "docker", "kubernetes",
    "algorithm", "recursion", "recursive", "array", "pointer", "struct", "loop", "script",
    "code", "coding", "program", "implement", "unittest", "repository", "async", "await",
    "endpoint", "database", "query", "linux", "shell", "lambda", "integer", "string", "boolean",
    "return", "commit", "branch", "merge", "compile", "library", "framework", "syntax", NULL};
/* Words that alone say "code" (they count twice). */
static const char *const code_strong[] = {
    "python", "javascript", "typescript", "golang", "c++", "sql", "regex", "segfault",
    "traceback", "stacktrace", "git", "docker", "kubernetes", "npm", "html", "css", "json",
    "yaml", "compiler", "recursion", "recursive", "refactor", NULL};
/* Words that alone say "reasoning" (they count twice). */
static const char *const reasoning_strong[] = {
    "prove", "proof", "theorem", "lemma", "solve", "equation", "derivative", "integral",
    "probability", "step by step", "step-by-step", NULL};
/* Words that point at reasoning: maths, logic, puzzles, proofs. */
static const char *const reasoning_words[] = {
    "prove", "proof", "theorem", "lemma", "solve", "equation", "calculate", "compute",
    "derivative", "integral", "probability", "how many", "how much", "step by step",
    "step-by-step", "reason", "reasoning", "logic", "logical", "puzzle", "riddle", "deduce",
    "infer", "percent", "percentage", "ratio", "sum of", "product of", "prime", "factor",
    "divisible", "average", "minimum", "maximum", "optimal", "if and only if", "therefore",
    "explain why", "why does", "what is the probability", "math", "maths", "mathematics",
    "geometry", "algebra", "triangle", "remainder", NULL};
/* Frequent function words of other languages, and of English. */
static const char *const foreign_words[] = {
    "el", "la", "los", "las", "una", "por", "para", "que", "est", "les", "des", "une", "pour",
    "avec", "dans", "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "het",
    "een", "niet", "il", "della", "che", "sono", "não", "com", "uma", "você", "och", "att",
    "jest", "nie", "się", "ve", "bir", "bu", "ne", "como", "qué", "wie", "was", "pourquoi",
    "comment", "warum", "porque", "cómo", "où", "wo", NULL};
static const char *const english_words[] = {
    "the", "and", "is", "are", "what", "how", "why", "of", "to", "in", "it", "you", "that",
    "this", "for", "with", "can", "do", "does", "my", "a", "an", "i", "me", "please", NULL};

static int in_list(const char *w, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(w, list[i]))
            return 1;
    return 0;
}

/* Counts occurrences of multi-word phrases of list in lowered text. */
static int phrases(const char *low, const char *const *list)
{
    int n = 0;
    for (size_t i = 0; list[i]; i++)
        if (strchr(list[i], ' ') && strstr(low, list[i]))
            n++;
    return n;
}

ari_class ari_classify(const char *text, int has_image, char *why, size_t cap)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        cap = sizeof dummy;
    }
    if (has_image) {
        snprintf(why, cap, "the query carries an image");
        return ARI_CLASS_VISION;
    }
    if (!text)
        text = "";
    /* lowered copy (ASCII only; other bytes kept) of the first 16 KiB */
    char low[16384];
    size_t n = strlen(text);
    if (n >= sizeof low)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)text[i]);
    low[n] = '\0';

    /* code: a fence, or source-like syntax, or programming words */
    if (strstr(low, "```")) {
        snprintf(why, cap, "code fence");
        return ARI_CLASS_CODE;
    }
    static const char *const syntax[] = {"#include", "def ", "fn ", "func ", "=>", "->", "();",
                                         "){", ") {", "import ", "console.log", "printf(",
                                         "select ", "</", "npm ", "pip install", NULL};
    int syn = 0;
    for (size_t i = 0; syntax[i]; i++)
        if (strstr(low, syntax[i]))
            syn++;
    /* words: runs of letters, digits, '+' (c++) and non-ASCII bytes */
    int code = 0, reason = 0, foreign = 0, english = 0, words = 0, numbers = 0;
    size_t nonascii = 0, letters = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)low[i];
        if (ch >= 0x80)
            nonascii++;
        if (isalpha(ch) || ch >= 0x80)
            letters++;
        if (!(isalnum(ch) || ch == '+' || ch >= 0x80)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && (isalnum((unsigned char)low[j]) || low[j] == '+' ||
                         (unsigned char)low[j] >= 0x80))
            j++;
        char w[64];
        if (j - i < sizeof w) {
            memcpy(w, low + i, j - i);
            w[j - i] = '\0';
            words++;
            code += in_list(w, code_words) + 2 * in_list(w, code_strong);
            reason += in_list(w, reasoning_words) + 2 * in_list(w, reasoning_strong);
            numbers += isdigit((unsigned char)w[0]) != 0;
            foreign += in_list(w, foreign_words);
            english += in_list(w, english_words);
        }
        i = j;
    }
    reason += phrases(low, reasoning_words) + 2 * phrases(low, reasoning_strong);
    /* arithmetic: digits joined by an operator, e.g. "12 * 7", "x^2 + 3" */
    int arith = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        char a = low[i], o = low[i + 1] == ' ' ? low[i + 2] : low[i + 1];
        if ((isdigit((unsigned char)a) || a == 'x') && strchr("+-*/^=", o) && o)
            arith++;
    }
    if (syn >= 2 || (syn >= 1 && code >= 1) || code >= 2) {
        snprintf(why, cap, "%d source-like marks, %d programming words", syn, code);
        return ARI_CLASS_CODE;
    }
    if (reason >= 2 || (reason >= 1 && (arith >= 1 || numbers >= 2)) || arith >= 2) {
        snprintf(why, cap, "%d reasoning words, %d arithmetic marks, %d numbers", reason, arith,
                 numbers);
        return ARI_CLASS_REASONING;
    }
    if ((letters && nonascii * 10 >= letters * 3) || (foreign >= 2 && foreign > english)) {
        snprintf(why, cap, "%zu%% non-ASCII letters, %d foreign and %d English function words",
                 letters ? nonascii * 100 / letters : 0, foreign, english);
        return ARI_CLASS_MULTILINGUAL;
    }
    snprintf(why, cap, "no code, reasoning, image or other language found in %d words", words);
    return ARI_CLASS_CHAT;
}

/* ---- profiles ---------------------------------------------------------- */

static const struct {
    const char *name;
    uint32_t tiers;
    unsigned min_gb;
} profiles[] = {
    {"minimal", ARIA_TIER_EFFICIENCY, 0},
    {"efficient", ARIA_TIER_EFFICIENCY, 0},
    {"balanced", ARIA_TIER_EFFICIENCY | ARIA_TIER_QUALITY, 8},
    {"full", ARIA_TIER_EFFICIENCY | ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST, 16},
    {"specialist_only", ARIA_TIER_SPECIALIST, 0},
};

uint32_t ari_profile_tiers(const char *p)
{
    for (size_t i = 0; p && i < sizeof profiles / sizeof profiles[0]; i++)
        if (!strcmp(p, profiles[i].name))
            return profiles[i].tiers;
    return 0;
}

unsigned ari_profile_min_ram_gb(const char *p)
{
    for (size_t i = 0; p && i < sizeof profiles / sizeof profiles[0]; i++)
        if (!strcmp(p, profiles[i].name))
            return profiles[i].min_gb;
    return 0;
}

/* ---- routing ----------------------------------------------------------- */

static const uint32_t tier_bits[] = {ARIA_TIER_EFFICIENCY, ARIA_TIER_QUALITY, ARIA_TIER_SPECIALIST};
static const char *const tier_names[] = {"efficiency", "quality", "specialist"};

uint32_t ari_tier_parse(const char *s, size_t len)
{
    for (size_t i = 0; s && i < 3; i++)
        if (strlen(tier_names[i]) == len && !strncmp(s, tier_names[i], len))
            return tier_bits[i];
    return 0;
}

const char *ari_tier_name(uint32_t bit)
{
    for (size_t i = 0; i < 3; i++)
        if (bit == tier_bits[i])
            return tier_names[i];
    return "none";
}

void ari_tier_list(uint32_t tiers, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < 3 && o < cap; i++)
        if (tiers & tier_bits[i]) {
            int k = snprintf(buf + o, cap - o, "%s%s", o ? "+" : "", tier_names[i]);
            if (k > 0)
                o += (size_t)k;
        }
}

static void add_pick(ari_route *r, long i)
{
    if (i < 0)
        return;
    if (r->chosen == i)
        return;
    for (int k = 0; k < r->n_fallbacks; k++)
        if (r->fallbacks[k] == i)
            return;
    if (r->chosen < 0)
        r->chosen = i;
    else if (r->n_fallbacks < ARI_ROUTE_MAX_FALLBACKS)
        r->fallbacks[r->n_fallbacks++] = i;
}

/* Models of one tier, smallest first, appended to the route. */
static void add_tier(ari_route *r, uint32_t bit, const ari_route_model *m, size_t n)
{
    for (;;) {
        long best = -1;
        for (size_t i = 0; i < n; i++) {
            int taken = r->chosen == (long)i;
            for (int k = 0; k < r->n_fallbacks; k++)
                taken |= r->fallbacks[k] == (long)i;
            if (!taken && (m[i].tiers & bit) && (best < 0 || m[i].bytes < m[best].bytes))
                best = (long)i;
        }
        if (best < 0 || (r->chosen >= 0 && r->n_fallbacks == ARI_ROUTE_MAX_FALLBACKS))
            return;
        add_pick(r, best);
    }
}

void ari_route_pick(ari_class cls, const char *chain, uint32_t tiers, const ari_route_model *m,
                    size_t n, ari_route *out)
{
    memset(out, 0, sizeof *out);
    out->cls = cls;
    out->chosen = -1;
    char skipped[160] = "";
    size_t sl = 0;
    int from_chain = 0;
    for (const char *p = chain; p && *p;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *end = e;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end > p) {
            const char *colon = memchr(p, ':', (size_t)(end - p));
            uint32_t want = colon ? ari_tier_parse(p, (size_t)(colon - p)) : 0;
            const char *id = want ? colon + 1 : p;
            size_t il = (size_t)(end - id);
            long found = -1;
            for (size_t i = 0; i < n; i++)
                if (strlen(m[i].id) == il && !strncmp(m[i].id, id, il))
                    found = (long)i;
            uint32_t t = found >= 0 ? (want ? want & m[found].tiers : m[found].tiers) : 0;
            if (found >= 0 && (t & tiers)) {
                add_pick(out, found);
                from_chain = 1;
            } else if (sl < sizeof skipped - 1) {
                int k = snprintf(skipped + sl, sizeof skipped - sl, "%s%.*s (%s)", sl ? ", " : "",
                                 (int)il, id, found < 0 ? "not served" : "tier off in profile");
                if (k > 0)
                    sl += (size_t)k;
            }
        }
        p = *e ? e + 1 : e;
    }
    /* the class's default tier order, within the profile */
    static const uint32_t order[ARI_N_CLASSES][3] = {
        [ARI_CLASS_CODE] = {ARIA_TIER_SPECIALIST, ARIA_TIER_QUALITY, ARIA_TIER_EFFICIENCY},
        [ARI_CLASS_REASONING] = {ARIA_TIER_SPECIALIST, ARIA_TIER_QUALITY, ARIA_TIER_EFFICIENCY},
        [ARI_CLASS_VISION] = {ARIA_TIER_SPECIALIST, ARIA_TIER_QUALITY, ARIA_TIER_EFFICIENCY},
        [ARI_CLASS_MULTILINGUAL] = {ARIA_TIER_QUALITY, ARIA_TIER_EFFICIENCY, ARIA_TIER_SPECIALIST},
        [ARI_CLASS_CHAT] = {ARIA_TIER_EFFICIENCY, ARIA_TIER_QUALITY, ARIA_TIER_SPECIALIST},
    };
    for (int k = 0; k < 3; k++)
        if (order[cls][k] & tiers)
            add_tier(out, order[cls][k], m, n);
    const char *cname = ari_class_names[cls];
    if (from_chain)
        snprintf(out->reason, sizeof out->reason, "%s query: [router] %s chain%s%s", cname, cname,
                 sl ? "; skipped " : "", skipped);
    else if (out->chosen >= 0) {
        uint32_t got = m[out->chosen].tiers & tiers;
        uint32_t bit = got & ARIA_TIER_EFFICIENCY ? ARIA_TIER_EFFICIENCY
                       : got & ARIA_TIER_QUALITY  ? ARIA_TIER_QUALITY
                                                  : ARIA_TIER_SPECIALIST;
        snprintf(out->reason, sizeof out->reason, "%s query: %s tier, smallest model%s%s", cname,
                 ari_tier_name(bit), sl ? "; skipped " : "", skipped);
    }
    if (out->chosen < 0) {
        /* nothing in the profile's tiers: any served model rather than none */
        for (uint32_t bit = 1; bit <= ARIA_TIER_SPECIALIST; bit <<= 1)
            add_tier(out, bit, m, n);
        for (size_t i = 0; i < n; i++)
            add_pick(out, (long)i);
        if (out->chosen >= 0)
            snprintf(out->reason, sizeof out->reason,
                     "%s query: no served model is in the profile's tiers; using what is served",
                     cname);
        else
            snprintf(out->reason, sizeof out->reason, "%s query: no model is served", cname);
    }
}
