/* registry.c — the loaded plugins and their interfaces, and the choice of a
 * kernel variant per family. */
#include "registry.h"

#include "log.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ari_registry_init(ari_registry *reg)
{
    memset(reg, 0, sizeof *reg);
}

void ari_registry_fini(ari_registry *reg)
{
    /* Reverse order: a plugin loaded later may hold handles of an earlier
     * one's interfaces (through core), never the other way round. */
    for (size_t i = reg->n_plugins; i-- > 0;) {
        ari_plugin *p = reg->plugins[i];
        if (p->initialized && p->desc->fini)
            p->desc->fini(p->ctx);
        if (p->dl)
            dlclose(p->dl);
        free(p->path);
        free(p);
    }
    for (size_t i = 0; i < reg->n_skipped; i++) {
        free(reg->skipped[i].path);
        free(reg->skipped[i].reason);
    }
    free(reg->skipped);
    free(reg->ifaces);
    memset(reg, 0, sizeof *reg);
}

void ari_registry_skip(ari_registry *reg, const char *path, const char *reason)
{
    if (reg->n_skipped == reg->cap_skipped) {
        size_t cap = reg->cap_skipped ? reg->cap_skipped * 2 : 8;
        ari_skip *s = realloc(reg->skipped, cap * sizeof *s);
        if (!s)
            return;
        reg->skipped = s;
        reg->cap_skipped = cap;
    }
    ari_skip *s = &reg->skipped[reg->n_skipped];
    s->path = strdup(path);
    s->reason = strdup(reason);
    if (!s->path || !s->reason) {
        free(s->path);
        free(s->reason);
        return;
    }
    reg->n_skipped++;
}

ari_plugin *ari_registry_find_plugin(const ari_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_plugins; i++)
        if (strcmp(reg->plugins[i]->desc->name, name) == 0)
            return reg->plugins[i];
    return NULL;
}

aria_err ari_registry_add(ari_registry *reg, ari_plugin *p,
                          const aria_cpu_info *cpu, aria_msg *why)
{
    if (reg->n_plugins == ARI_MAX_PLUGINS)
        return aria_fail(why, ARIA_ERR_RANGE, "more than %d plugins",
                         ARI_MAX_PLUGINS);
    size_t need = reg->n_ifaces + p->desc->n_interfaces;
    if (need > reg->cap_ifaces) {
        size_t cap = reg->cap_ifaces ? reg->cap_ifaces : 16;
        while (cap < need)
            cap *= 2;
        ari_iface *f = realloc(reg->ifaces, cap * sizeof *f);
        if (!f)
            return aria_fail(why, ARIA_ERR_NOMEM, "out of memory");
        reg->ifaces = f;
        reg->cap_ifaces = cap;
    }
    for (size_t i = 0; i < p->desc->n_interfaces; i++) {
        const aria_interface *in = &p->desc->interfaces[i];
        ari_iface *f = &reg->ifaces[reg->n_ifaces++];
        f->kind = in->kind;
        f->vt = in->vtable;
        f->plugin = p;
        f->score = 0;
        if (in->kind == ARIA_IFACE_KERNEL) {
            const aria_kernel_vt *k = in->vtable;
            f->score = k->score(cpu);
            if (f->score < 0)
                f->score = 0;
        }
    }
    reg->plugins[reg->n_plugins++] = p;
    return ARIA_OK;
}

const ari_iface *ari_registry_iface(const ari_registry *reg, uint32_t kind,
                                    size_t i)
{
    for (size_t j = 0; j < reg->n_ifaces; j++)
        if (reg->ifaces[j].kind == kind && i-- == 0)
            return &reg->ifaces[j];
    return NULL;
}

const ari_iface *ari_kernel_pick(const ari_registry *reg, const char *family,
                                 const char *override, aria_msg *why)
{
    const ari_iface *best = NULL, *named = NULL;
    char have[128] = "";
    size_t hl = 0;
    if (why)
        why->text[0] = '\0';
    for (size_t i = 0; i < reg->n_ifaces; i++) {
        const ari_iface *f = &reg->ifaces[i];
        if (f->kind != ARIA_IFACE_KERNEL)
            continue;
        const aria_kernel_vt *k = f->vt;
        if (strcmp(k->family, family) != 0)
            continue;
        if (hl < sizeof have) {
            int n = snprintf(have + hl, sizeof have - hl, "%s%s", hl ? ", " : "", k->isa);
            if (n > 0)
                hl += (size_t)n;
        }
        if (override && strcmp(k->isa, override) == 0)
            named = f;
        if (f->score > 0 && (!best || f->score > best->score))
            best = f;
    }
    int wants = override && override[0] && strcmp(override, "auto") != 0;
    if (!wants)
        return best;
    if (named && named->score > 0)
        return named;
    const char *fallback = best ? ((const aria_kernel_vt *)best->vt)->isa : "none";
    if (named)
        aria_fail(why, ARIA_ERR_UNSUPPORTED,
                  "[kernels] %s = %s: that variant cannot run on this CPU; using %s",
                  family, override, fallback);
    else
        aria_fail(why, ARIA_ERR_NOT_FOUND,
                  "[kernels] %s = %s: no such variant loaded (have: %s); using %s",
                  family, override, hl ? have : "none", fallback);
    return best;
}

void ari_registry_select_kernels(ari_registry *reg,
                                 const char *(*get_override)(const char *family))
{
    reg->n_sel = 0;
    for (size_t i = 0; i < reg->n_ifaces; i++) {
        const ari_iface *f = &reg->ifaces[i];
        if (f->kind != ARIA_IFACE_KERNEL)
            continue;
        const char *family = ((const aria_kernel_vt *)f->vt)->family;
        int seen = 0;
        for (size_t j = 0; j < reg->n_sel; j++)
            seen |= strcmp(reg->sel[j].family, family) == 0;
        if (seen || reg->n_sel == ARI_MAX_FAMILIES)
            continue;
        ari_kernel_sel *s = &reg->sel[reg->n_sel++];
        snprintf(s->family, sizeof s->family, "%s", family);
        const char *ov = get_override ? get_override(family) : NULL;
        aria_msg why = {{0}};
        s->iface = ari_kernel_pick(reg, family, ov, &why);
        if (why.text[0])
            ari_warn("kernels", "%s", why.text);
        if (!s->iface)
            snprintf(s->how, sizeof s->how, "no variant can run on this CPU");
        else if (!why.text[0] && ov && ov[0] && strcmp(ov, "auto") != 0)
            snprintf(s->how, sizeof s->how, "named in aria.ini [kernels] %s", family);
        else
            snprintf(s->how, sizeof s->how, "highest score (%d)", s->iface->score);
    }
}

const aria_kernel_vt *ari_registry_kernels(const ari_registry *reg,
                                           const char *family)
{
    for (size_t j = 0; j < reg->n_sel; j++)
        if (strcmp(reg->sel[j].family, family) == 0)
            return reg->sel[j].iface ? reg->sel[j].iface->vt : NULL;
    return NULL;
}

const char *ari_iface_kind_name(uint32_t kind)
{
    switch (kind) {
    case ARIA_IFACE_BACKEND: return "backend";
    case ARIA_IFACE_TRANSPORT: return "transport";
    case ARIA_IFACE_LEDGER: return "ledger";
    case ARIA_IFACE_DETECTOR: return "detector";
    case ARIA_IFACE_KERNEL: return "kernel";
    }
    return "unknown";
}

const char *ari_iface_name(const ari_iface *f, char *buf, size_t cap)
{
    const char *name = "?";
    switch (f->kind) {
    case ARIA_IFACE_BACKEND: name = ((const aria_backend_vt *)f->vt)->name; break;
    case ARIA_IFACE_TRANSPORT: name = ((const aria_transport_vt *)f->vt)->name; break;
    case ARIA_IFACE_LEDGER: name = ((const aria_ledger_vt *)f->vt)->name; break;
    case ARIA_IFACE_DETECTOR: name = ((const aria_detector_vt *)f->vt)->name; break;
    case ARIA_IFACE_KERNEL: {
        const aria_kernel_vt *k = f->vt;
        snprintf(buf, cap, "%s/%s", k->family, k->isa);
        return buf;
    }
    }
    snprintf(buf, cap, "%s", name ? name : "?");
    return buf;
}
