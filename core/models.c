/* models.c — a model file goes to the backend that claims it best. */
#include "models.h"

#include <stdio.h>
#include <string.h>

aria_err ari_model_pick(const ari_registry *reg, const char *path, const ari_iface **best,
                        aria_probe *probe, aria_msg *why)
{
    *best = NULL;
    memset(probe, 0, sizeof *probe);
    char reasons[ARIA_MSG_MAX] = "";
    size_t rl = 0;
    int any = 0;
    for (size_t i = 0;; i++) {
        const ari_iface *f = ari_registry_iface(reg, ARIA_IFACE_BACKEND, i);
        if (!f)
            break;
        any = 1;
        const aria_backend_vt *vt = f->vt;
        aria_probe pr = {.hdr = {sizeof pr, 1}};
        aria_msg m = {{0}};
        aria_err e = vt->probe(f->plugin->ctx, path, &pr, &m);
        if (e == ARIA_OK && pr.score > probe->score) {
            *probe = pr;
            *best = f;
        } else if (pr.score == 0 && m.text[0] && rl < sizeof reasons - 1) {
            int n = snprintf(reasons + rl, sizeof reasons - rl, "%s%s: %s", rl ? "; " : "",
                             vt->name, m.text);
            if (n > 0)
                rl += (size_t)n;
        }
    }
    if (*best)
        return ARIA_OK;
    if (!any)
        return aria_fail(why, ARIA_ERR_NOT_FOUND, "no backend plugin is loaded (check --plugins)");
    return aria_fail(why, ARIA_ERR_UNSUPPORTED, "no backend can load %s%s%s", path,
                     rl ? ": " : "", reasons);
}

aria_err ari_model_load(const ari_registry *reg, const char *path, uint32_t layer_first,
                        uint32_t layer_end, uint32_t n_ctx, uint32_t n_threads, ari_loaded *out,
                        aria_msg *why)
{
    memset(out, 0, sizeof *out);
    const ari_iface *f;
    aria_err e = ari_model_pick(reg, path, &f, &out->probe, why);
    if (e != ARIA_OK)
        return e;
    out->vt = f->vt;
    out->ctx = f->plugin->ctx;
    aria_load_params p = {.hdr = {sizeof p, 1}, .path = path, .layer_first = layer_first,
                          .layer_end = layer_end, .n_ctx = n_ctx, .n_threads = n_threads};
    return out->vt->load(out->ctx, &p, &out->model, why);
}

void ari_model_unload(ari_loaded *l)
{
    if (l->model)
        l->vt->unload(l->model);
    l->model = NULL;
}
