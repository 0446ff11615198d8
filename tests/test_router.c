/* test_router.c — the classifier on a table of real-looking queries, and
 * routing decisions for profiles, chains and fallbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "router.h"

#include <aria/common.h>

#include <stdio.h>
#include <string.h>

static const struct {
    const char *q;
    ari_class want;
} table[] = {
    /* code */
    {"Write a Python function that checks whether a string is a palindrome.", ARI_CLASS_CODE},
    {"Why does this segfault?\n```c\nint *p = NULL; *p = 3;\n```", ARI_CLASS_CODE},
    {"How do I undo the last git commit but keep my changes?", ARI_CLASS_CODE},
    {"my react component re-renders forever when I call setState inside useEffect, how to fix the loop",
     ARI_CLASS_CODE},
    {"SELECT name FROM users WHERE age > 30; -- why is this query slow on postgres?", ARI_CLASS_CODE},
    {"def fib(n): return n if n < 2 else fib(n-1) + fib(n-2)  # make this faster", ARI_CLASS_CODE},
    {"Explain the difference between an array and a linked list in Java", ARI_CLASS_CODE},
    {"¿Cómo escribo una función recursiva en Python?", ARI_CLASS_CODE},
    /* reasoning */
    {"If a train leaves at 3pm going 60 km/h, how many km has it covered by 5:30pm?",
     ARI_CLASS_REASONING},
    {"Prove that the square root of 2 is irrational.", ARI_CLASS_REASONING},
    {"What is 17 * 23 + 4? Think step by step.", ARI_CLASS_REASONING},
    {"Solve for x: 3x + 7 = 22", ARI_CLASS_REASONING},
    {"A bag has 3 red and 5 blue balls. What is the probability of drawing two red ones?",
     ARI_CLASS_REASONING},
    {"Three friends split a bill; explain why the average is not the same as the median here, "
     "step by step",
     ARI_CLASS_REASONING},
    /* multilingual */
    {"Bonjour, pourquoi le ciel est-il bleu pendant la journée ?", ARI_CLASS_MULTILINGUAL},
    {"Wie spät ist es in Tokio, wenn es in Berlin zwölf Uhr ist und was ist das für eine Zeitzone?",
     ARI_CLASS_MULTILINGUAL},
    {"東京でおすすめのラーメン屋を教えてください", ARI_CLASS_MULTILINGUAL},
    {"Расскажи мне сказку про кота", ARI_CLASS_MULTILINGUAL},
    {"¿Qué es la fotosíntesis y por qué es importante para las plantas?", ARI_CLASS_MULTILINGUAL},
    {"مرحبا، كيف حالك اليوم؟", ARI_CLASS_MULTILINGUAL},
    /* chat */
    {"Hi! How are you today?", ARI_CLASS_CHAT},
    {"Tell me a short story about a dragon who is afraid of the dark.", ARI_CLASS_CHAT},
    {"What should I cook for dinner tonight with chicken and rice?", ARI_CLASS_CHAT},
    {"Give me three tips for a job interview.", ARI_CLASS_CHAT},
    {"Who painted the Mona Lisa?", ARI_CLASS_CHAT},
    {"Summarize the plot of Hamlet in two sentences.", ARI_CLASS_CHAT},
};

static void test_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char why[160];
        ari_class c = ari_classify(table[i].q, 0, why, sizeof why);
        if (c != table[i].want) {
            printf("  %s: got %s (%s), want %s\n", table[i].q, ari_class_names[c], why,
                   ari_class_names[table[i].want]);
            bad++;
        }
        assert_true(why[0] != '\0');
    }
    assert_int_equal(bad, 0);
}

static void test_image_is_vision(void **state)
{
    (void)state;
    char why[160];
    assert_int_equal(ari_classify("What is in this picture?", 1, why, sizeof why),
                     ARI_CLASS_VISION);
    assert_int_equal(ari_classify("```py\nprint(1)\n```", 1, NULL, 0), ARI_CLASS_VISION);
    assert_int_equal(ari_classify("", 0, why, sizeof why), ARI_CLASS_CHAT);
    assert_int_equal(ari_classify(NULL, 0, why, sizeof why), ARI_CLASS_CHAT);
}

static const ari_route_model models[] = {
    {"bitnet-2b", ARIA_TIER_EFFICIENCY, 1200},
    {"bitnet-large", ARIA_TIER_EFFICIENCY, 300},
    {"qwen-3b", ARIA_TIER_QUALITY, 2000},
    {"coder-7b", ARIA_TIER_SPECIALIST, 4500},
};
#define NM (sizeof models / sizeof models[0])

static void test_profiles(void **state)
{
    (void)state;
    assert_int_equal(ari_profile_tiers("efficient"), ARIA_TIER_EFFICIENCY);
    assert_int_equal(ari_profile_tiers("balanced"), ARIA_TIER_EFFICIENCY | ARIA_TIER_QUALITY);
    assert_int_equal(ari_profile_tiers("full"),
                     ARIA_TIER_EFFICIENCY | ARIA_TIER_QUALITY | ARIA_TIER_SPECIALIST);
    assert_int_equal(ari_profile_tiers("specialist_only"), ARIA_TIER_SPECIALIST);
    assert_int_equal(ari_profile_tiers("turbo"), 0);
    assert_int_equal(ari_profile_min_ram_gb("balanced"), 8);
    assert_int_equal(ari_profile_min_ram_gb("full"), 16);
}

static void test_defaults_by_tier(void **state)
{
    (void)state;
    ari_route r;
    /* efficient profile: chat goes to the smallest efficiency model */
    ari_route_pick(ARI_CLASS_CHAT, NULL, ari_profile_tiers("efficient"), models, NM, &r);
    assert_int_equal(r.chosen, 1);
    assert_int_equal(r.n_fallbacks, 1);
    assert_int_equal(r.fallbacks[0], 0);
    assert_non_null(strstr(r.reason, "efficiency tier"));
    /* full profile: code prefers the specialist, then quality, then efficiency */
    ari_route_pick(ARI_CLASS_CODE, "", ari_profile_tiers("full"), models, NM, &r);
    assert_int_equal(r.chosen, 3);
    assert_int_equal(r.n_fallbacks, 3);
    assert_int_equal(r.fallbacks[0], 2);
    /* balanced: multilingual prefers quality */
    ari_route_pick(ARI_CLASS_MULTILINGUAL, NULL, ari_profile_tiers("balanced"), models, NM, &r);
    assert_int_equal(r.chosen, 2);
    /* the specialist is dark in balanced */
    ari_route_pick(ARI_CLASS_CODE, NULL, ari_profile_tiers("balanced"), models, NM, &r);
    assert_int_equal(r.chosen, 2);
    for (int k = 0; k < r.n_fallbacks; k++)
        assert_int_not_equal(r.fallbacks[k], 3);
}

static void test_chains(void **state)
{
    (void)state;
    ari_route r;
    ari_route_pick(ARI_CLASS_CODE, "coder-7b, quality:qwen-3b, bitnet-2b",
                   ari_profile_tiers("full"), models, NM, &r);
    assert_int_equal(r.chosen, 3);
    assert_int_equal(r.fallbacks[0], 2);
    assert_int_equal(r.fallbacks[1], 0);
    assert_non_null(strstr(r.reason, "[router] code chain"));
    /* a missing model and a dark tier are skipped and named */
    ari_route_pick(ARI_CLASS_CODE, "gpt-9, coder-7b, bitnet-2b", ari_profile_tiers("efficient"),
                   models, NM, &r);
    assert_int_equal(r.chosen, 0);
    assert_non_null(strstr(r.reason, "gpt-9 (not served)"));
    assert_non_null(strstr(r.reason, "coder-7b (tier off in profile)"));
    /* a step that names the wrong tier for its model does not match */
    ari_route_pick(ARI_CLASS_CHAT, "specialist:bitnet-2b", ari_profile_tiers("full"), models, NM,
                   &r);
    assert_int_equal(r.chosen, 1); /* the default order instead */
}

static void test_nothing_in_profile(void **state)
{
    (void)state;
    ari_route r;
    const ari_route_model only_gguf[] = {{"story.gguf", ARIA_TIER_QUALITY, 1}};
    ari_route_pick(ARI_CLASS_CHAT, NULL, ari_profile_tiers("efficient"), only_gguf, 1, &r);
    assert_int_equal(r.chosen, 0);
    assert_non_null(strstr(r.reason, "no served model is in the profile's tiers"));
    ari_route_pick(ARI_CLASS_CHAT, NULL, ari_profile_tiers("efficient"), NULL, 0, &r);
    assert_int_equal(r.chosen, -1);
    assert_non_null(strstr(r.reason, "no model is served"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),           cmocka_unit_test(test_image_is_vision),
        cmocka_unit_test(test_profiles),        cmocka_unit_test(test_defaults_by_tier),
        cmocka_unit_test(test_chains),          cmocka_unit_test(test_nothing_in_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
