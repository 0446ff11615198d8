/* main.c — aria-core: runs a node, or one of its subcommands. */
#include "cmds.h"
#include "node.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: aria-core [OPTIONS]              run a node in the foreground\n"
    "       aria-core [OPTIONS] COMMAND ...  run one command\n"
    "\n"
    "ARIA is a peer-to-peer inference network for plain CPUs: each node serves\n"
    "the GGUF models it holds (1.58-bit ternary and ordinary quantized ones)\n"
    "through plugins found under --plugins.\n"
    "\n"
    "Commands:\n"
    "  plugins            list the loaded plugins, kernel variants and skipped files\n"
    "  hardware           show what the hardware detectors see (--json too)\n"
    "  config check FILE  validate an aria.ini and print the effective configuration\n"
    "  run FILE -p TEXT   generate text from a model file\n"
    "  model list|info|download|import|remove   the catalog and installed models\n"
    "  tokenize FILE -- TEXT  the token ids of TEXT\n"
    "  quantize IN OUT TYPE   convert a model's weights (Q8_0, Q4_0, TQ1_0, ...)\n"
    "  bench FILE|--shape NAME --type T   speed against the memory roofline\n"
    "  profile list|set NAME  which model tiers the node serves (edits --config)\n"
    "  ledger verify|show|stats|export|rewards  the provenance ledger\n"
    "\n"
    "Options (any command, anywhere before \"--\"):\n"
    "  --plugins DIR      plugin directory, searched recursively for *.so\n"
    "                     (default: [plugins] dir, else " ARIA_DEFAULT_PLUGIN_DIR ")\n"
    "  --config FILE      aria.ini to read (default: none, built-in defaults)\n"
    "  --data-dir DIR     [node] data_dir: keys, ledger, models; one node per dir\n"
    "  --threads N        [node] threads: worker threads (0: physical cores)\n"
    "  --log-level L      [node] log_level: error, warn, info or debug\n"
    "  --name NAME        [node] name shown to peers\n"
    "  --api HOST:PORT    [api] listen: the OpenAI-compatible API (port 0: any free)\n"
    "  --listen URLS      [network] listen: peer URLs, ws://HOST:PORT or wss://\n"
    "                     (comma-separated; port 0: any free; empty: do not listen)\n"
    "  --bootstrap URLS   [network] bootstrap: peers to dial at start\n"
    "  --model FILE       also serve this GGUF file, under its file name (repeatable)\n"
    "  --set S.K=V        set any aria.ini key, e.g. --set api.listen=0.0.0.0:3000\n"
    "  -h, --help         this help; COMMAND --help for a command's\n"
    "  -V, --version      print the version\n"
    "\n"
    "Flags override aria.ini, which overrides the defaults. See conf/aria.ini.\n";

int main(int argc, char **argv)
{
    ari_opts o;
    memset(&o, 0, sizeof o);
    if (ari_opts_parse(&o, &argc, argv) != 0)
        return 2;
    /* --version answers the same wherever it stands (before "--"). */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("aria-core %s (plugin ABI %d.%d)\n", ARIA_VERSION, ARIA_ABI_MAJOR,
                   ARIA_ABI_MINOR);
            return 0;
        }
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd)
        return ari_node_run(&o);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "plugins"))
        return ari_cmd_plugins(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "hardware"))
        return ari_cmd_hardware(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "config"))
        return ari_cmd_config(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "run"))
        return ari_cmd_run(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "tokenize"))
        return ari_cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "model"))
        return ari_cmd_model(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "quantize"))
        return ari_cmd_quantize(argc - 1, argv + 1);
    if (!strcmp(cmd, "profile"))
        return ari_cmd_profile(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "bench"))
        return ari_cmd_bench(argc - 1, argv + 1, &o);
    if (!strcmp(cmd, "ledger"))
        return ari_cmd_ledger(argc - 1, argv + 1, &o);
    if (cmd[0] == '-')
        fprintf(stderr, "aria-core: unknown option '%s' (see aria-core --help)\n", cmd);
    else
        fprintf(stderr, "aria-core: unknown command '%s' (see aria-core --help)\n", cmd);
    return 2;
}
