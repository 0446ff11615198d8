/* ffi_call.c — signature strings to libffi call interfaces, and the calls. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, readlink, strnlen: also when built out of tree */
#endif
#include "ffi_call.h"

#include <dlfcn.h>
#include <string.h>

/* S: struct { int64_t; void *; } by value (OpenVINO's ov_shape_t). libffi
 * fills in its size and alignment when a call interface first uses it. */
static ffi_type *npu_ffi_s_elems[] = {&ffi_type_sint64, &ffi_type_pointer, NULL};
static ffi_type npu_ffi_s = {.size = 0, .alignment = 0, .type = FFI_TYPE_STRUCT,
                             .elements = npu_ffi_s_elems};

static ffi_type *ffi_type_of(char c)
{
    switch (c) {
    case 'S': return &npu_ffi_s;
    case 'i': return &ffi_type_sint32;
    case 'u': return &ffi_type_uint32;
    case 'I': return &ffi_type_sint64;
    case 'U': return &ffi_type_uint64;
    case 'p': return &ffi_type_pointer;
    case 'z':
        /* size_t is as wide as a pointer on every target the plugins build for */
        ARIA_STATIC_ASSERT(sizeof(size_t) == 8 || sizeof(size_t) == 4, "odd size_t");
        return sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    }
    return NULL;
}

aria_err npu_ffi_prep(npu_ffi_fn *f, const char *name, void *addr, const char *sig, aria_msg *why)
{
    memset(f, 0, sizeof *f);
    f->name = name;
    if (!addr)
        return aria_fail(why, ARIA_ERR_INVALID, "%s: no address to call", name);
    const char *s = sig;
    ffi_type *rtype = *s == 'v' ? &ffi_type_void : *s == 'S' ? NULL : ffi_type_of(*s);
    if (!rtype || s[1] != '(')
        return aria_fail(why, ARIA_ERR_INVALID, "%s: bad signature '%s'", name, sig);
    f->ret = *s;
    int variadic = 0;
    for (s += 2; *s && *s != ')'; s++) {
        if (strncmp(s, "...", 3) == 0 && !variadic) {
            variadic = 1;
            f->n_fixed = f->n_args;
            s += 2;
            continue;
        }
        ffi_type *t = ffi_type_of(*s);
        if (!t || f->n_args == NPU_FFI_MAX_ARGS)
            return aria_fail(why, ARIA_ERR_INVALID, "%s: bad signature '%s'", name, sig);
        f->args[f->n_args++] = t;
    }
    if (*s != ')' || s[1] != '\0')
        return aria_fail(why, ARIA_ERR_INVALID, "%s: bad signature '%s'", name, sig);
    ffi_status st;
    if (variadic) {
        /* A variadic function needs at least one fixed argument in C. */
        if (f->n_fixed == 0)
            return aria_fail(why, ARIA_ERR_INVALID, "%s: bad signature '%s'", name, sig);
        st = ffi_prep_cif_var(&f->cif, FFI_DEFAULT_ABI, f->n_fixed, f->n_args, rtype, f->args);
    } else {
        f->n_fixed = f->n_args;
        st = ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, f->n_args, rtype, f->args);
    }
    if (st != FFI_OK)
        return aria_fail(why, ARIA_ERR_INTERNAL, "%s: libffi refused signature '%s' (status %d)",
                         name, sig, (int)st);
    /* dlsym hands out an object pointer; POSIX guarantees it converts. */
    memcpy(&f->addr, &addr, sizeof f->addr);
    return ARIA_OK;
}

aria_err npu_ffi_prep_types(npu_ffi_fn *f, const char *name, void *addr, char ret,
                            ffi_type *const *args, unsigned n, aria_msg *why)
{
    memset(f, 0, sizeof *f);
    f->name = name;
    ffi_type *rtype = ret == 'v' ? &ffi_type_void : ret == 'S' ? NULL : ffi_type_of(ret);
    if (!addr || !rtype || n > NPU_FFI_MAX_ARGS)
        return aria_fail(why, ARIA_ERR_INVALID, "%s: bad call interface", name);
    for (unsigned i = 0; i < n; i++)
        f->args[i] = args[i];
    f->n_args = f->n_fixed = n;
    f->ret = ret;
    ffi_status st = ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, n, rtype, f->args);
    if (st != FFI_OK)
        return aria_fail(why, ARIA_ERR_INTERNAL, "%s: libffi refused the call interface (status %d)",
                         name, (int)st);
    memcpy(&f->addr, &addr, sizeof f->addr);
    return ARIA_OK;
}

aria_err npu_ffi_bind(npu_ffi_fn *f, void *dl, const char *lib, const char *name, const char *sig,
                      aria_msg *why)
{
    memset(f, 0, sizeof *f);
    dlerror();
    void *addr = dlsym(dl, name);
    if (!addr)
        return aria_fail(why, ARIA_ERR_NOT_FOUND, "no entry point '%s' in %s", name, lib);
    return npu_ffi_prep(f, name, addr, sig, why);
}

aria_err npu_ffi_call(const npu_ffi_fn *f, size_t n, void **args, npu_ffi_val *ret, aria_msg *why)
{
    if (!f->addr)
        return aria_fail(why, ARIA_ERR_INVALID, "%s: not prepared", f->name ? f->name : "?");
    if (n != f->n_args)
        return aria_fail(why, ARIA_ERR_INVALID, "%s: called with %zu arguments, takes %u", f->name,
                         n, f->n_args);
    /* Integer results narrower than a register come back widened to an
     * ffi_arg; wider ones (I, U on 32-bit targets) need 8 bytes. */
    union {
        ffi_arg a;
        uint64_t u64;
        void *p;
    } r;
    memset(&r, 0, sizeof r);
    ffi_call((ffi_cif *)&f->cif, f->addr, &r, args);
    if (ret) {
        switch (f->ret) {
        case 'i': ret->i = (int32_t)(uint32_t)r.a; break;
        case 'u': ret->u = (uint32_t)r.a; break;
        case 'I': ret->i = (int64_t)r.u64; break;
        case 'U': ret->u = r.u64; break;
        case 'z': ret->u = sizeof(size_t) == 8 ? r.u64 : (uint32_t)r.a; break;
        case 'p': ret->p = r.p; break;
        default: ret->u = 0; break;
        }
    }
    return ARIA_OK;
}
