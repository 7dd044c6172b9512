/*
 * freeorder._atomics: int64 atomic cells and arrays over C11 <stdatomic.h>.
 *
 * Invariant: every value lives in an _Atomic int64_t and is only touched by
 * the atomic_*_explicit functions, so the types are safe under free threading
 * with no lock, no critical section and no reliance on a GIL. Memory orders
 * are validated at the boundary as C11 requires (a load cannot be RELEASE or
 * ACQ_REL, a store cannot be ACQUIRE or ACQ_REL, a compare-exchange failure
 * order cannot be RELEASE or ACQ_REL).
 *
 * Hot methods use METH_FASTCALL|METH_KEYWORDS and parse positional arguments
 * by hand: on 3.13t every avoided allocation or lookup shows.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "freeorder._atomics needs always-lock-free 64-bit atomics"
#endif

typedef _Atomic int64_t atomic_i64;

/* Memory orders as exported to Python (same numbering as C11's enum order). */
enum {
    ORD_RELAXED = 0,
    ORD_ACQUIRE = 1,
    ORD_RELEASE = 2,
    ORD_ACQ_REL = 3,
    ORD_SEQ_CST = 4,
    ORD_COUNT = 5,
};

static const char *const order_names[ORD_COUNT] = {
    "RELAXED", "ACQUIRE", "RELEASE", "ACQ_REL", "SEQ_CST",
};

static const memory_order c_orders[ORD_COUNT] = {
    memory_order_relaxed, memory_order_acquire, memory_order_release,
    memory_order_acq_rel, memory_order_seq_cst,
};

enum op_kind { OP_LOAD, OP_STORE, OP_RMW, OP_CAS_FAILURE };

static const char *const op_names[] = {"load", "store", "read-modify-write", "compare_exchange failure"};

/* ------------------------------------------------------------------------ */
/* argument conversion                                                       */

static int
to_i64(PyObject *obj, const char *what, int64_t *out)
{
    if (!PyLong_Check(obj)) {
        if (PyFloat_Check(obj) || !PyIndex_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s",
                         what, Py_TYPE(obj)->tp_name);
            return -1;
        }
        PyObject *idx = PyNumber_Index(obj);
        if (idx == NULL) {
            return -1;
        }
        int r = to_i64(idx, what, out);
        Py_DECREF(idx);
        return r;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow) {
        PyErr_Format(PyExc_OverflowError,
                     "%s=%R is outside the int64 range [-2**63, 2**63-1]", what, obj);
        return -1;
    }
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Parse an order argument; kind says which C11 restriction applies. */
static int
to_order(PyObject *obj, enum op_kind kind, const char *what, int *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a memory order (RELAXED, ACQUIRE, RELEASE, ACQ_REL, SEQ_CST), not %.100s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || v < 0 || v >= ORD_COUNT) {
        PyErr_Format(PyExc_ValueError,
                     "%s=%R is not a memory order (RELAXED=0 .. SEQ_CST=4)", what, obj);
        return -1;
    }
    int bad = 0;
    switch (kind) {
    case OP_LOAD:
    case OP_CAS_FAILURE:
        bad = (v == ORD_RELEASE || v == ORD_ACQ_REL);
        break;
    case OP_STORE:
        bad = (v == ORD_ACQUIRE || v == ORD_ACQ_REL);
        break;
    case OP_RMW:
        break;
    }
    if (bad) {
        PyErr_Format(PyExc_ValueError, "%s=%s is not valid for a %s (C11 forbids it)",
                     what, order_names[v], op_names[kind]);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* The strongest failure order C11 allows for a given success order. */
static int
default_failure(int success)
{
    switch (success) {
    case ORD_ACQ_REL:
        return ORD_ACQUIRE;
    case ORD_RELEASE:
        return ORD_RELAXED;
    default:
        return success;
    }
}

/*
 * Generic fastcall parser for our fixed signatures: `npos` required
 * positional parameters followed by optional parameters (names in `kw`,
 * NULL-terminated, covering all parameters). Fills `out` (length nall),
 * leaving missing optionals NULL.
 */
static int
parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
           const char *const *kw, int nreq, int nall, PyObject **out)
{
    if (nargs > nall) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)",
                     fname, nall, nargs);
        return -1;
    }
    for (int i = 0; i < nall; i++) {
        out[i] = i < nargs ? args[i] : NULL;
    }
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; k++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, k);
            int found = -1;
            for (int i = 0; i < nall; i++) {
                if (PyUnicode_CompareWithASCIIString(name, kw[i]) == 0) {
                    found = i;
                    break;
                }
            }
            if (found < 0) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                             fname, name);
                return -1;
            }
            if (out[found] != NULL) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                             fname, kw[found]);
                return -1;
            }
            out[found] = args[nargs + k];
        }
    }
    for (int i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, kw[i]);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* the operations, shared by both types                                      */

typedef enum { RMW_ADD, RMW_SUB, RMW_AND, RMW_OR, RMW_XOR, RMW_SWAP } rmw_op;

static inline int64_t
do_load(atomic_i64 *p, int order)
{
    return atomic_load_explicit(p, c_orders[order]);
}

static inline void
do_store(atomic_i64 *p, int64_t v, int order)
{
    atomic_store_explicit(p, v, c_orders[order]);
}

static inline int64_t
do_rmw(atomic_i64 *p, rmw_op op, int64_t v, int order)
{
    memory_order mo = c_orders[order];
    switch (op) {
    case RMW_ADD:
        return atomic_fetch_add_explicit(p, v, mo);
    case RMW_SUB:
        return atomic_fetch_sub_explicit(p, v, mo);
    case RMW_AND:
        return atomic_fetch_and_explicit(p, v, mo);
    case RMW_OR:
        return atomic_fetch_or_explicit(p, v, mo);
    case RMW_XOR:
        return atomic_fetch_xor_explicit(p, v, mo);
    case RMW_SWAP:
    default:
        return atomic_exchange_explicit(p, v, mo);
    }
}

/* Returns the witnessed value: equal to `expected` iff the exchange happened. */
static inline int64_t
do_cas(atomic_i64 *p, int64_t expected, int64_t desired, int weak, int success, int failure)
{
    int64_t witnessed = expected;
    if (weak) {
        atomic_compare_exchange_weak_explicit(p, &witnessed, desired, c_orders[success],
                                              c_orders[failure]);
    }
    else {
        atomic_compare_exchange_strong_explicit(p, &witnessed, desired, c_orders[success],
                                                c_orders[failure]);
    }
    return witnessed;
}

/* ------------------------------------------------------------------------ */
/* AtomicInt                                                                 */

typedef struct {
    PyObject_HEAD
    atomic_i64 value;
} AtomicIntObject;

static PyObject *
aint_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *init = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicInt", kwlist, &init)) {
        return NULL;
    }
    int64_t v = 0;
    if (init != NULL && to_i64(init, "value", &v) < 0) {
        return NULL;
    }
    AtomicIntObject *self = (AtomicIntObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    atomic_init(&self->value, v);
    return (PyObject *)self;
}

static void
aint_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
aint_repr(PyObject *self)
{
    AtomicIntObject *a = (AtomicIntObject *)self;
    return PyUnicode_FromFormat("AtomicInt(%lld)", (long long)do_load(&a->value, ORD_SEQ_CST));
}

static const char *const kw_order[] = {"order", NULL};
static const char *const kw_value_order[] = {"value", "order", NULL};
static const char *const kw_cas[] = {"expected", "desired", "order", "failure", "weak", NULL};

static PyObject *
aint_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int order = ORD_SEQ_CST;
    if (nargs == 1 && kwnames == NULL) {  /* load(order): the hot form with an order */
        if (to_order(args[0], OP_LOAD, "order", &order) < 0) {
            return NULL;
        }
    }
    else if (nargs != 0 || kwnames != NULL) {
        PyObject *a[1];
        if (parse_args("load", args, nargs, kwnames, kw_order, 0, 1, a) < 0) {
            return NULL;
        }
        if (a[0] != NULL && to_order(a[0], OP_LOAD, "order", &order) < 0) {
            return NULL;
        }
    }
    return PyLong_FromLongLong(do_load(&((AtomicIntObject *)self)->value, order));
}

static PyObject *
aint_store(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int order = ORD_SEQ_CST;
    int64_t v;
    if ((nargs == 1 || nargs == 2) && kwnames == NULL) {
        if (to_i64(args[0], "value", &v) < 0) {
            return NULL;
        }
        if (nargs == 2 && to_order(args[1], OP_STORE, "order", &order) < 0) {
            return NULL;
        }
    }
    else {
        PyObject *a[2];
        if (parse_args("store", args, nargs, kwnames, kw_value_order, 1, 2, a) < 0) {
            return NULL;
        }
        if (to_i64(a[0], "value", &v) < 0) {
            return NULL;
        }
        if (a[1] != NULL && to_order(a[1], OP_STORE, "order", &order) < 0) {
            return NULL;
        }
    }
    do_store(&((AtomicIntObject *)self)->value, v, order);
    Py_RETURN_NONE;
}

static PyObject *
rmw_common(const char *name, atomic_i64 *p, rmw_op op, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    int order = ORD_SEQ_CST;
    int64_t v;
    if (nargs == 1 && kwnames == NULL) {
        if (to_i64(args[0], "value", &v) < 0) {
            return NULL;
        }
    }
    else {
        PyObject *a[2];
        if (parse_args(name, args, nargs, kwnames, kw_value_order, 1, 2, a) < 0) {
            return NULL;
        }
        if (to_i64(a[0], "value", &v) < 0) {
            return NULL;
        }
        if (a[1] != NULL && to_order(a[1], OP_RMW, "order", &order) < 0) {
            return NULL;
        }
    }
    return PyLong_FromLongLong(do_rmw(p, op, v, order));
}

#define AINT_RMW(fname, OP)                                                                  \
    static PyObject *aint_##fname(PyObject *self, PyObject *const *args, Py_ssize_t nargs,  \
                                  PyObject *kwnames)                                         \
    {                                                                                        \
        return rmw_common(#fname, &((AtomicIntObject *)self)->value, OP, args, nargs,        \
                          kwnames);                                                          \
    }

AINT_RMW(swap, RMW_SWAP)
AINT_RMW(fetch_add, RMW_ADD)
AINT_RMW(fetch_sub, RMW_SUB)
AINT_RMW(fetch_and, RMW_AND)
AINT_RMW(fetch_or, RMW_OR)
AINT_RMW(fetch_xor, RMW_XOR)

/* Parse (expected, desired, order=, failure=, weak=) from a[0..4]. */
static int
cas_args(PyObject **a, int weak_default, int64_t *expected, int64_t *desired, int *success,
         int *failure, int *weak)
{
    if (to_i64(a[0], "expected", expected) < 0 || to_i64(a[1], "desired", desired) < 0) {
        return -1;
    }
    *success = ORD_SEQ_CST;
    if (a[2] != NULL && to_order(a[2], OP_RMW, "order", success) < 0) {
        return -1;
    }
    *failure = default_failure(*success);
    if (a[3] != NULL && a[3] != Py_None &&
        to_order(a[3], OP_CAS_FAILURE, "failure", failure) < 0) {
        return -1;
    }
    *weak = weak_default;
    if (a[4] != NULL) {
        int t = PyObject_IsTrue(a[4]);
        if (t < 0) {
            return -1;
        }
        *weak = t;
    }
    return 0;
}

static PyObject *
cas_common(const char *name, atomic_i64 *p, int weak_default, PyObject *const *args,
           Py_ssize_t nargs, PyObject *kwnames)
{
    int64_t expected, desired;
    if (nargs == 2 && kwnames == NULL) {
        if (to_i64(args[0], "expected", &expected) < 0 || to_i64(args[1], "desired", &desired) < 0) {
            return NULL;
        }
        return PyLong_FromLongLong(do_cas(p, expected, desired, weak_default, ORD_SEQ_CST, ORD_SEQ_CST));
    }
    PyObject *a[5];
    int success, failure, weak;
    if (parse_args(name, args, nargs, kwnames, kw_cas, 2, 5, a) < 0 ||
        cas_args(a, weak_default, &expected, &desired, &success, &failure, &weak) < 0) {
        return NULL;
    }
    return PyLong_FromLongLong(do_cas(p, expected, desired, weak, success, failure));
}

static PyObject *
aint_compare_exchange(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return cas_common("compare_exchange", &((AtomicIntObject *)self)->value, 0, args, nargs, kwnames);
}

static PyObject *
aint_compare_exchange_weak(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    return cas_common("compare_exchange_weak", &((AtomicIntObject *)self)->value, 1, args, nargs,
                      kwnames);
}

#define FASTKW (METH_FASTCALL | METH_KEYWORDS)

PyDoc_STRVAR(load_doc, "load(order=SEQ_CST) -> int\n\nAtomically read the value.");
PyDoc_STRVAR(store_doc, "store(value, order=SEQ_CST) -> None\n\nAtomically write the value.");
PyDoc_STRVAR(swap_doc, "swap(value, order=SEQ_CST) -> int\n\nWrite value, return the previous one.");
PyDoc_STRVAR(cas_doc,
             "compare_exchange(expected, desired, order=SEQ_CST, failure=None, weak=False) -> int\n\n"
             "If the value equals expected, replace it with desired. Returns the value witnessed:\n"
             "the exchange happened iff the result == expected. failure defaults to the\n"
             "strongest order C11 allows for order. A weak exchange may fail spuriously.");
PyDoc_STRVAR(casw_doc,
             "compare_exchange_weak(expected, desired, order=SEQ_CST, failure=None) -> int\n\n"
             "compare_exchange with weak=True: may fail spuriously, for use in retry loops.");
PyDoc_STRVAR(fetch_add_doc, "fetch_add(value, order=SEQ_CST) -> int\n\nAdd (wrapping), return the previous value.");
PyDoc_STRVAR(fetch_sub_doc, "fetch_sub(value, order=SEQ_CST) -> int\n\nSubtract (wrapping), return the previous value.");
PyDoc_STRVAR(fetch_and_doc, "fetch_and(value, order=SEQ_CST) -> int\n\nBitwise and, return the previous value.");
PyDoc_STRVAR(fetch_or_doc, "fetch_or(value, order=SEQ_CST) -> int\n\nBitwise or, return the previous value.");
PyDoc_STRVAR(fetch_xor_doc, "fetch_xor(value, order=SEQ_CST) -> int\n\nBitwise xor, return the previous value.");

static PyMethodDef aint_methods[] = {
    {"load", (PyCFunction)(void (*)(void))aint_load, FASTKW, load_doc},
    {"store", (PyCFunction)(void (*)(void))aint_store, FASTKW, store_doc},
    {"swap", (PyCFunction)(void (*)(void))aint_swap, FASTKW, swap_doc},
    {"compare_exchange", (PyCFunction)(void (*)(void))aint_compare_exchange, FASTKW, cas_doc},
    {"compare_exchange_weak", (PyCFunction)(void (*)(void))aint_compare_exchange_weak, FASTKW, casw_doc},
    {"fetch_add", (PyCFunction)(void (*)(void))aint_fetch_add, FASTKW, fetch_add_doc},
    {"fetch_sub", (PyCFunction)(void (*)(void))aint_fetch_sub, FASTKW, fetch_sub_doc},
    {"fetch_and", (PyCFunction)(void (*)(void))aint_fetch_and, FASTKW, fetch_and_doc},
    {"fetch_or", (PyCFunction)(void (*)(void))aint_fetch_or, FASTKW, fetch_or_doc},
    {"fetch_xor", (PyCFunction)(void (*)(void))aint_fetch_xor, FASTKW, fetch_xor_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(aint_doc,
             "AtomicInt(value=0)\n\n"
             "One int64 cell updated atomically (C11 <stdatomic.h>). Every operation takes\n"
             "an explicit memory order (default SEQ_CST), validated as C11 does.");

static PyType_Slot aint_slots[] = {
    {Py_tp_new, aint_new},
    {Py_tp_dealloc, aint_dealloc},
    {Py_tp_repr, aint_repr},
    {Py_tp_methods, aint_methods},
    {Py_tp_doc, (void *)aint_doc},
    {0, NULL},
};

static PyType_Spec aint_spec = {
    .name = "freeorder._atomics.AtomicInt",
    .basicsize = sizeof(AtomicIntObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = aint_slots,
};

/* ------------------------------------------------------------------------ */
/* AtomicIntArray                                                            */

typedef struct {
    PyObject_HEAD
    /* Cells 0 .. length-1 are usable. Only grow() changes length, and only upwards,
       within the reservation; relaxed loads of it suffice because every cell of the
       reservation exists (zero-filled) from construction on: growing publishes no data. */
    _Atomic Py_ssize_t length;
    Py_ssize_t reserved;  /* cells backed by the allocation (== length unless reserve= was given) */
    int mapped;           /* items came from mmap (a reservation), not PyMem_RawMalloc */
    atomic_i64 *items;
} AtomicIntArrayObject;

static inline Py_ssize_t
aarr_length(AtomicIntArrayObject *a)
{
    return atomic_load_explicit(&a->length, memory_order_relaxed);
}

static PyObject *
aarr_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"length", "fill", "reserve", NULL};
    PyObject *len_obj, *fill_obj = NULL, *reserve_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$O:AtomicIntArray", kwlist, &len_obj, &fill_obj,
                                     &reserve_obj)) {
        return NULL;
    }
    int64_t length, fill = 0, reserve;
    if (to_i64(len_obj, "length", &length) < 0) {
        return NULL;
    }
    const uint64_t max_cells = (uint64_t)(PY_SSIZE_T_MAX / sizeof(atomic_i64));
    if (length < 0 || (uint64_t)length > max_cells) {
        PyErr_Format(PyExc_ValueError, "length=%lld must be >= 0 and fit in memory", (long long)length);
        return NULL;
    }
    if (fill_obj != NULL && to_i64(fill_obj, "fill", &fill) < 0) {
        return NULL;
    }
    int mapped = 0;
    reserve = length;
    if (reserve_obj != NULL && reserve_obj != Py_None) {
        if (to_i64(reserve_obj, "reserve", &reserve) < 0) {
            return NULL;
        }
        if (reserve < length || (uint64_t)reserve > max_cells) {
            PyErr_Format(PyExc_ValueError, "reserve=%lld must be >= length=%lld and fit in the address space",
                         (long long)reserve, (long long)length);
            return NULL;
        }
        if (fill != 0) {
            PyErr_Format(PyExc_ValueError, "fill=%lld: a reserved array starts zero-filled (fill must be 0)",
                         (long long)fill);
            return NULL;
        }
        mapped = reserve > 0;
    }
    atomic_i64 *items = NULL;
    if (mapped) {
        /* Address space only: pages are committed (zero-filled) when first touched. */
        void *mem = mmap(NULL, (size_t)reserve * sizeof(atomic_i64), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) {
            PyErr_Format(PyExc_MemoryError, "reserve=%lld: cannot reserve %lld bytes of address space",
                         (long long)reserve, (long long)(reserve * (int64_t)sizeof(atomic_i64)));
            return NULL;
        }
        items = mem;
    }
    else if (length > 0) {
        items = PyMem_RawMalloc((size_t)length * sizeof(atomic_i64));
        if (items == NULL) {
            return PyErr_NoMemory();
        }
        for (int64_t i = 0; i < length; i++) {
            atomic_init(&items[i], fill);
        }
    }
    AtomicIntArrayObject *self = (AtomicIntArrayObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        if (mapped) {
            munmap(items, (size_t)reserve * sizeof(atomic_i64));
        }
        else {
            PyMem_RawFree(items);
        }
        return NULL;
    }
    atomic_init(&self->length, (Py_ssize_t)length);
    self->reserved = (Py_ssize_t)reserve;
    self->mapped = mapped;
    self->items = items;
    /* Publish the initialised cells before the object can reach another thread. */
    atomic_thread_fence(memory_order_release);
    return (PyObject *)self;
}

static void
aarr_dealloc(PyObject *self)
{
    AtomicIntArrayObject *a = (AtomicIntArrayObject *)self;
    PyTypeObject *tp = Py_TYPE(self);
    if (a->mapped) {
        munmap(a->items, (size_t)a->reserved * sizeof(atomic_i64));
    }
    else {
        PyMem_RawFree(a->items);
    }
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
aarr_repr(PyObject *self)
{
    return PyUnicode_FromFormat("AtomicIntArray(length=%zd)", aarr_length((AtomicIntArrayObject *)self));
}

static Py_ssize_t
aarr_len(PyObject *self)
{
    return aarr_length((AtomicIntArrayObject *)self);
}

/* Resolve an index argument to a cell; no negative indexes (they hide bugs). */
static atomic_i64 *
cell(AtomicIntArrayObject *a, PyObject *index)
{
    Py_ssize_t i;
    if (PyLong_CheckExact(index)) {
        i = PyLong_AsSsize_t(index);
        if (i == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            i = -1;
        }
    }
    else {
        if (PyFloat_Check(index) || !PyIndex_Check(index)) {
            PyErr_Format(PyExc_TypeError, "index must be an int, not %.100s", Py_TYPE(index)->tp_name);
            return NULL;
        }
        i = PyNumber_AsSsize_t(index, NULL);
        if (i == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    Py_ssize_t length = aarr_length(a);
    if (i < 0 || i >= length) {
        PyErr_Format(PyExc_IndexError, "index=%R out of range for AtomicIntArray of length %zd",
                     index, length);
        return NULL;
    }
    return &a->items[i];
}

static const char *const kw_i_order[] = {"index", "order", NULL};
static const char *const kw_i_value_order[] = {"index", "value", "order", NULL};
static const char *const kw_i_cas[] = {"index", "expected", "desired", "order", "failure", "weak", NULL};

static PyObject *
aarr_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    AtomicIntArrayObject *a = (AtomicIntArrayObject *)self;
    int order = ORD_SEQ_CST;
    atomic_i64 *p;
    if ((nargs == 1 || nargs == 2) && kwnames == NULL) {
        if (nargs == 2 && to_order(args[1], OP_LOAD, "order", &order) < 0) {
            return NULL;
        }
        p = cell(a, args[0]);
    }
    else {
        PyObject *v[2];
        if (parse_args("load", args, nargs, kwnames, kw_i_order, 1, 2, v) < 0) {
            return NULL;
        }
        if (v[1] != NULL && to_order(v[1], OP_LOAD, "order", &order) < 0) {
            return NULL;
        }
        p = cell(a, v[0]);
    }
    if (p == NULL) {
        return NULL;
    }
    return PyLong_FromLongLong(do_load(p, order));
}

static PyObject *
aarr_store(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    AtomicIntArrayObject *a = (AtomicIntArrayObject *)self;
    int order = ORD_SEQ_CST;
    int64_t val;
    atomic_i64 *p;
    if ((nargs == 2 || nargs == 3) && kwnames == NULL) {
        p = cell(a, args[0]);
        if (p == NULL || to_i64(args[1], "value", &val) < 0) {
            return NULL;
        }
        if (nargs == 3 && to_order(args[2], OP_STORE, "order", &order) < 0) {
            return NULL;
        }
    }
    else {
        PyObject *v[3];
        if (parse_args("store", args, nargs, kwnames, kw_i_value_order, 2, 3, v) < 0) {
            return NULL;
        }
        p = cell(a, v[0]);
        if (p == NULL || to_i64(v[1], "value", &val) < 0) {
            return NULL;
        }
        if (v[2] != NULL && to_order(v[2], OP_STORE, "order", &order) < 0) {
            return NULL;
        }
    }
    do_store(p, val, order);
    Py_RETURN_NONE;
}

static PyObject *
aarr_rmw(const char *name, AtomicIntArrayObject *a, rmw_op op, PyObject *const *args,
         Py_ssize_t nargs, PyObject *kwnames)
{
    int order = ORD_SEQ_CST;
    int64_t val;
    atomic_i64 *p;
    if (nargs == 2 && kwnames == NULL) {
        p = cell(a, args[0]);
        if (p == NULL || to_i64(args[1], "value", &val) < 0) {
            return NULL;
        }
    }
    else {
        PyObject *v[3];
        if (parse_args(name, args, nargs, kwnames, kw_i_value_order, 2, 3, v) < 0) {
            return NULL;
        }
        p = cell(a, v[0]);
        if (p == NULL || to_i64(v[1], "value", &val) < 0) {
            return NULL;
        }
        if (v[2] != NULL && to_order(v[2], OP_RMW, "order", &order) < 0) {
            return NULL;
        }
    }
    return PyLong_FromLongLong(do_rmw(p, op, val, order));
}

#define AARR_RMW(fname, OP)                                                                  \
    static PyObject *aarr_##fname(PyObject *self, PyObject *const *args, Py_ssize_t nargs,  \
                                  PyObject *kwnames)                                         \
    {                                                                                        \
        return aarr_rmw(#fname, (AtomicIntArrayObject *)self, OP, args, nargs, kwnames);     \
    }

AARR_RMW(swap, RMW_SWAP)
AARR_RMW(fetch_add, RMW_ADD)
AARR_RMW(fetch_sub, RMW_SUB)
AARR_RMW(fetch_and, RMW_AND)
AARR_RMW(fetch_or, RMW_OR)
AARR_RMW(fetch_xor, RMW_XOR)

static PyObject *
aarr_cas(const char *name, AtomicIntArrayObject *a, int weak_default, PyObject *const *args,
         Py_ssize_t nargs, PyObject *kwnames)
{
    int64_t expected, desired;
    atomic_i64 *p;
    if (nargs == 3 && kwnames == NULL) {
        p = cell(a, args[0]);
        if (p == NULL || to_i64(args[1], "expected", &expected) < 0 ||
            to_i64(args[2], "desired", &desired) < 0) {
            return NULL;
        }
        return PyLong_FromLongLong(do_cas(p, expected, desired, weak_default, ORD_SEQ_CST, ORD_SEQ_CST));
    }
    PyObject *v[6];
    int success, failure, weak;
    if (parse_args(name, args, nargs, kwnames, kw_i_cas, 3, 6, v) < 0) {
        return NULL;
    }
    p = cell(a, v[0]);
    if (p == NULL || cas_args(v + 1, weak_default, &expected, &desired, &success, &failure, &weak) < 0) {
        return NULL;
    }
    return PyLong_FromLongLong(do_cas(p, expected, desired, weak, success, failure));
}

static PyObject *
aarr_compare_exchange(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return aarr_cas("compare_exchange", (AtomicIntArrayObject *)self, 0, args, nargs, kwnames);
}

static PyObject *
aarr_compare_exchange_weak(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    return aarr_cas("compare_exchange_weak", (AtomicIntArrayObject *)self, 1, args, nargs, kwnames);
}

static PyObject *
aarr_to_list(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    AtomicIntArrayObject *a = (AtomicIntArrayObject *)self;
    Py_ssize_t length = aarr_length(a);
    PyObject *list = PyList_New(length);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        PyObject *v = PyLong_FromLongLong(do_load(&a->items[i], ORD_ACQUIRE));
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

/* grow(length): one atomic fetch-max of the usable length, within the reservation. */
static PyObject *
aarr_grow(PyObject *self, PyObject *arg)
{
    AtomicIntArrayObject *a = (AtomicIntArrayObject *)self;
    int64_t want;
    if (to_i64(arg, "length", &want) < 0) {
        return NULL;
    }
    if (want < 0 || want > a->reserved) {
        PyErr_Format(PyExc_ValueError, "length=%lld is outside this array's reservation 0..%zd",
                     (long long)want, a->reserved);
        return NULL;
    }
    Py_ssize_t cur = aarr_length(a);
    /* Relaxed is enough: the cells already exist (zero-filled); only the bound moves. */
    while (cur < (Py_ssize_t)want &&
           !atomic_compare_exchange_weak_explicit(&a->length, &cur, (Py_ssize_t)want,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
    return PyLong_FromSsize_t(cur > (Py_ssize_t)want ? cur : (Py_ssize_t)want);
}

static PyObject *
aarr_get_reserved(PyObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(((AtomicIntArrayObject *)self)->reserved);
}

static PyGetSetDef aarr_getset[] = {
    {"reserved", aarr_get_reserved, NULL, "Cells this array can grow to (its length unless reserve= was given).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(agrow_doc,
             "grow(length) -> int\n\n"
             "Raise the usable length to at least length (never lowers it), within the\n"
             "reservation given at construction; new cells read 0. Returns the new length.");
PyDoc_STRVAR(aload_doc, "load(index, order=SEQ_CST) -> int\n\nAtomically read cell index.");
PyDoc_STRVAR(astore_doc, "store(index, value, order=SEQ_CST) -> None\n\nAtomically write cell index.");
PyDoc_STRVAR(aswap_doc, "swap(index, value, order=SEQ_CST) -> int\n\nWrite cell index, return its previous value.");
PyDoc_STRVAR(acas_doc,
             "compare_exchange(index, expected, desired, order=SEQ_CST, failure=None, weak=False) -> int\n\n"
             "Compare-exchange on cell index; returns the value witnessed (== expected iff it happened).");
PyDoc_STRVAR(acasw_doc,
             "compare_exchange_weak(index, expected, desired, order=SEQ_CST, failure=None) -> int\n\n"
             "compare_exchange with weak=True: may fail spuriously.");
PyDoc_STRVAR(afetch_doc, "fetch_OP(index, value, order=SEQ_CST) -> int\n\nAtomic read-modify-write of cell index; returns the previous value.");
PyDoc_STRVAR(ato_list_doc, "to_list() -> list[int]\n\nAcquire-load every cell in order (not one atomic snapshot).");

static PyMethodDef aarr_methods[] = {
    {"load", (PyCFunction)(void (*)(void))aarr_load, FASTKW, aload_doc},
    {"store", (PyCFunction)(void (*)(void))aarr_store, FASTKW, astore_doc},
    {"swap", (PyCFunction)(void (*)(void))aarr_swap, FASTKW, aswap_doc},
    {"compare_exchange", (PyCFunction)(void (*)(void))aarr_compare_exchange, FASTKW, acas_doc},
    {"compare_exchange_weak", (PyCFunction)(void (*)(void))aarr_compare_exchange_weak, FASTKW, acasw_doc},
    {"fetch_add", (PyCFunction)(void (*)(void))aarr_fetch_add, FASTKW, afetch_doc},
    {"fetch_sub", (PyCFunction)(void (*)(void))aarr_fetch_sub, FASTKW, afetch_doc},
    {"fetch_and", (PyCFunction)(void (*)(void))aarr_fetch_and, FASTKW, afetch_doc},
    {"fetch_or", (PyCFunction)(void (*)(void))aarr_fetch_or, FASTKW, afetch_doc},
    {"fetch_xor", (PyCFunction)(void (*)(void))aarr_fetch_xor, FASTKW, afetch_doc},
    {"to_list", aarr_to_list, METH_NOARGS, ato_list_doc},
    {"grow", aarr_grow, METH_O, agrow_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(aarr_doc,
             "AtomicIntArray(length, fill=0, *, reserve=None)\n\n"
             "An array of int64 cells, each updated atomically. Indexes are\n"
             "0 <= index < length (no negative indexes). With reserve=N (>= length,\n"
             "fill 0) the array reserves address space for N cells, committed only when\n"
             "touched, and grow() raises its length up to N without moving any cell.");

static PyType_Slot aarr_slots[] = {
    {Py_tp_new, aarr_new},
    {Py_tp_dealloc, aarr_dealloc},
    {Py_tp_repr, aarr_repr},
    {Py_tp_methods, aarr_methods},
    {Py_tp_getset, aarr_getset},
    {Py_sq_length, aarr_len},
    {Py_tp_doc, (void *)aarr_doc},
    {0, NULL},
};

static PyType_Spec aarr_spec = {
    .name = "freeorder._atomics.AtomicIntArray",
    .basicsize = sizeof(AtomicIntArrayObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = aarr_slots,
};

/* ------------------------------------------------------------------------ */
/* thread_index: a small per-thread number from C thread-local storage        */
/*
 * Invariant: at any instant the live threads that have called thread_index()
 * hold pairwise different indexes, each the lowest one free when it asked.
 * An index is claimed once per thread (a compare-exchange on its owner flag),
 * cached in a C11 _Thread_local, and released by a pthread key destructor
 * when the thread exits -- after the interpreter has finished with the thread
 * (threading.local cleanup runs first), so a later thread that gets the same
 * index never overlaps the earlier one. After fork() only the forking thread
 * exists: the child keeps its index and frees every other.
 */

#define THREAD_INDEX_LIMIT 65536

static atomic_uchar thread_owner[THREAD_INDEX_LIMIT];
static _Thread_local Py_ssize_t thread_my_index = -1;
static pthread_key_t thread_exit_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static int thread_init_failed;

static void
thread_index_release(void *value)
{
    Py_ssize_t i = (Py_ssize_t)(intptr_t)value - 1;
    /* Release: whatever this thread wrote happens-before the next owner's claim. */
    atomic_store_explicit(&thread_owner[i], 0, memory_order_release);
}

static void
thread_index_after_fork_child(void)
{
    for (Py_ssize_t i = 0; i < THREAD_INDEX_LIMIT; i++) {
        atomic_store_explicit(&thread_owner[i], i == thread_my_index, memory_order_relaxed);
    }
}

static void
thread_index_init(void)
{
    if (pthread_key_create(&thread_exit_key, thread_index_release) != 0 ||
        pthread_atfork(NULL, NULL, thread_index_after_fork_child) != 0) {
        thread_init_failed = 1;
    }
}

static PyObject *
mod_thread_index(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t mine = thread_my_index;
    if (mine >= 0) {
        return PyLong_FromSsize_t(mine);
    }
    pthread_once(&thread_once, thread_index_init);
    if (thread_init_failed) {
        PyErr_SetString(PyExc_OSError, "thread_index: pthread_key_create/pthread_atfork failed");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < THREAD_INDEX_LIMIT; i++) {
        unsigned char free_flag = 0;
        /* Acquire: pairs with the release in thread_index_release of the previous owner. */
        if (atomic_load_explicit(&thread_owner[i], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&thread_owner[i], &free_flag, 1,
                                                    memory_order_acquire, memory_order_relaxed)) {
            if (pthread_setspecific(thread_exit_key, (void *)(intptr_t)(i + 1)) != 0) {
                atomic_store_explicit(&thread_owner[i], 0, memory_order_release);
                PyErr_SetString(PyExc_OSError, "thread_index: pthread_setspecific failed");
                return NULL;
            }
            thread_my_index = i;
            return PyLong_FromSsize_t(i);
        }
    }
    PyErr_Format(PyExc_RuntimeError, "thread_index: more than %d threads are alive at once",
                 THREAD_INDEX_LIMIT);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* module                                                                    */

static PyObject *
mod_fence(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int order = ORD_SEQ_CST;
    if (nargs != 0 || kwnames != NULL) {
        PyObject *a[1];
        if (parse_args("fence", args, nargs, kwnames, kw_order, 0, 1, a) < 0) {
            return NULL;
        }
        if (a[0] != NULL && to_order(a[0], OP_RMW, "order", &order) < 0) {
            return NULL;
        }
    }
    atomic_thread_fence(c_orders[order]);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"fence", (PyCFunction)(void (*)(void))mod_fence, FASTKW,
     "fence(order=SEQ_CST) -> None\n\nA C11 atomic_thread_fence."},
    {"thread_index", mod_thread_index, METH_NOARGS,
     "thread_index() -> int\n\nThis thread's index: the lowest number not held by another live thread,\n"
     "the same on every call from this thread, given back when the thread exits."},
    {NULL, NULL, 0, NULL},
};

static int
module_exec(PyObject *m)
{
    PyObject *t = PyType_FromModuleAndSpec(m, &aint_spec, NULL);
    if (t == NULL || PyModule_AddObjectRef(m, "AtomicInt", t) < 0) {
        Py_XDECREF(t);
        return -1;
    }
    Py_DECREF(t);
    t = PyType_FromModuleAndSpec(m, &aarr_spec, NULL);
    if (t == NULL || PyModule_AddObjectRef(m, "AtomicIntArray", t) < 0) {
        Py_XDECREF(t);
        return -1;
    }
    Py_DECREF(t);
    for (int i = 0; i < ORD_COUNT; i++) {
        if (PyModule_AddIntConstant(m, order_names[i], i) < 0) {
            return -1;
        }
    }
    if (PyModule_AddIntConstant(m, "INT64_MIN", INT64_MIN) < 0 ||
        PyModule_AddIntConstant(m, "INT64_MAX", INT64_MAX) < 0 ||
        PyModule_AddIntConstant(m, "THREAD_INDEX_LIMIT", THREAD_INDEX_LIMIT) < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef atomics_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "freeorder._atomics",
    .m_doc = "int64 atomic cells and arrays over C11 <stdatomic.h>, safe without a GIL.",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__atomics(void)
{
    return PyModuleDef_Init(&atomics_module);
}
