/* test_chat.c — template families recognized from real template texts, and
 * the exact prompts they produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <aria/chat.h>

#include <string.h>

static const aria_chat_msg conv[] = {
    {"system", "Be brief."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "2+2?"},
};

static void check(aria_chat_kind k, const char *want)
{
    char buf[1024];
    size_t len;
    aria_msg why;
    assert_int_equal(aria_chat_format(k, conv, 4, 1, "</s>", buf, sizeof buf, &len, &why), ARIA_OK);
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
    /* too small: the size needed, and nothing claimed written */
    char small[8];
    assert_int_equal(aria_chat_format(k, conv, 4, 1, "</s>", small, sizeof small, &len, &why),
                     ARIA_ERR_RANGE);
    assert_int_equal(len, strlen(want));
}

static void test_detect(void **state)
{
    (void)state;
    struct {
        const char *tmpl;
        aria_chat_kind k;
    } t[] = {
        {"{% for m in messages %}{{'<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] + '<|eot_id|>'}}{% endfor %}", ARIA_CHAT_LLAMA3},
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}", ARIA_CHAT_CHATML},
        {"{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' }}", ARIA_CHAT_FALCON3},
        {"{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}", ARIA_CHAT_PHI3},
        {"{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}", ARIA_CHAT_LLAMA2},
        {"{{ 'User: ' + message['content'] + '<|eot_id|>' }}{{ 'Assistant: ' }}", ARIA_CHAT_BITNET},
        {"{{ message['content'] }}", ARIA_CHAT_PLAIN},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(aria_chat_detect(t[i].tmpl, strlen(t[i].tmpl)), t[i].k);
    assert_int_equal(aria_chat_detect(NULL, 0), ARIA_CHAT_PLAIN);
}

static void test_formats(void **state)
{
    (void)state;
    check(ARIA_CHAT_LLAMA3,
          "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check(ARIA_CHAT_CHATML, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                            "<|im_start|>assistant\n");
    check(ARIA_CHAT_FALCON3, "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello.\n<|user|>\n"
                             "2+2?\n<|assistant|>\n");
    check(ARIA_CHAT_LLAMA2, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello.</s>"
                            "[INST] 2+2? [/INST]");
    check(ARIA_CHAT_BITNET, "System: Be brief.<|eot_id|>User: Hi<|eot_id|>Assistant: Hello.<|eot_id|>"
                            "User: 2+2?<|eot_id|>Assistant: ");
    check(ARIA_CHAT_PLAIN, "System: Be brief.\nUser: Hi\nAssistant: Hello.\nUser: 2+2?\nAssistant:");
}

static void test_bad_role(void **state)
{
    (void)state;
    aria_chat_msg m[] = {{"wizard", "x"}};
    char buf[64];
    size_t len;
    aria_msg why;
    assert_int_equal(aria_chat_format(ARIA_CHAT_CHATML, m, 1, 1, NULL, buf, sizeof buf, &len, &why),
                     ARIA_ERR_INVALID);
    assert_string_equal(why.text, "message 0 has role 'wizard' (system, user, assistant or tool)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_bad_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
