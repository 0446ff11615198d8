/* ffi_call.h — calling a vendor runtime's C functions by name, through libffi.
 *
 * The NPU plugins must build on a machine with no vendor SDK: no vendor
 * header, no import library. So they dlopen the runtime when the node
 * starts, find each entry point with dlsym (or read it from a table the
 * runtime hands out, as QNN does), and call it through libffi with a call
 * interface built from a signature string that spells the real C prototype.
 * A wrong signature is then one string to fix, next to the prototype it
 * copies, instead of a cast hidden in a call.
 *
 * Compiled into each NPU plugin (it is not a plugin of its own); its symbols
 * stay private to the .so like the rest of the plugin's.
 *
 * Signature strings: one return code, then the argument codes in
 * parentheses; "..." marks where the variadic arguments of a variadic
 * function begin (their types are fixed per call site, so a call site with
 * other variadic types needs its own npu_ffi_fn).
 *
 *   v  void (return only)      i  int32_t, C int, C enum
 *   u  uint32_t                I  int64_t
 *   U  uint64_t                z  size_t
 *   p  any object pointer (including char *, T **, handles)
 *   S  struct { int64_t; void *; } by value (OpenVINO's ov_shape_t); not
 *      a return type
 *
 *   "i(pp)"      ov_status_e f(const ov_core_t *, ov_available_devices_t *)
 *   "v(p)"       void f(ov_core_t *)
 *   "i(pp...pp)" ov_status_e f(const ov_core_t *, const char *, ...) called
 *                with two more char * arguments
 *
 * Small integers in the variadic part are promoted by C's default argument
 * promotions, which i and u already are; there is no float code, because no
 * entry point the plugins call takes one. */
#ifndef NPU_FFI_CALL_H
#define NPU_FFI_CALL_H

#include <aria/common.h>

#include <ffi.h>

#define NPU_FFI_MAX_ARGS 12

/* What a call returned, read according to the signature's return code. */
typedef union npu_ffi_val {
    int64_t i;  /* i, I (sign-extended) */
    uint64_t u; /* u, U, z (zero-extended) */
    void *p;    /* p */
} npu_ffi_val;

/* One prepared entry point. The cif points into this struct: prepare it
 * where it will live and do not copy it afterwards. */
typedef struct npu_ffi_fn {
    const char *name;   /* the entry point's name, for messages (not copied) */
    void (*addr)(void); /* where it lives in the runtime */
    ffi_cif cif;
    ffi_type *args[NPU_FFI_MAX_ARGS];
    unsigned n_args;  /* all arguments, fixed and variadic */
    unsigned n_fixed; /* == n_args unless the signature has "..." */
    char ret;         /* return code from the signature */
} npu_ffi_fn;

/* Prepares f to call addr (a function of the runtime, found by the caller)
 * with signature sig. Errors: ARIA_ERR_INVALID for a malformed signature
 * or a NULL addr, ARIA_ERR_INTERNAL when libffi refuses the interface. */
aria_err npu_ffi_prep(npu_ffi_fn *f, const char *name, void *addr, const char *sig, aria_msg *why);

/* Prepares f with argument types given as libffi types, for what a
 * signature string cannot say (a struct passed by value: the caller builds
 * its ffi_type, which must outlive f). ret is a return code of the
 * signature strings. Errors as npu_ffi_prep. */
aria_err npu_ffi_prep_types(npu_ffi_fn *f, const char *name, void *addr, char ret,
                            ffi_type *const *args, unsigned n, aria_msg *why);

/* Looks name up in the library dl (opened from lib, which only names it in
 * messages) and prepares f. A missing symbol is ARIA_ERR_NOT_FOUND with
 * "no entry point 'NAME' in LIB" in *why (the name first: a short field
 * that shows the message cut keeps what matters). */
aria_err npu_ffi_bind(npu_ffi_fn *f, void *dl, const char *lib, const char *name, const char *sig,
                      aria_msg *why);

/* Calls f with n arguments: args[k] points to the value of argument k, of
 * the type its code names (for p, a pointer to the pointer). n must equal
 * f->n_args (ARIA_ERR_INVALID otherwise: nothing is called). *ret (may be
 * NULL) receives the return value. Blocks for as long as the callee does. */
aria_err npu_ffi_call(const npu_ffi_fn *f, size_t n, void **args, npu_ffi_val *ret, aria_msg *why);

#endif
