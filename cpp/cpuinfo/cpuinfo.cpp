// lamina._cpuinfo: which x86-64 ISA levels this CPU (and OS) can run, for lamina/__init__.py to
// pick a lamina._C_<level> module before loading any of them. Compiled with baseline flags and no
// dependencies beyond Python, so it loads on every x86-64 machine. __builtin_cpu_supports reads
// cpuid and, for AVX and AVX-512, also checks that the OS saves the wider registers (XCR0).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace {

// Features in the order lamina.show_config() prints them.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LAMINA_FEATURE(name) {name, __builtin_cpu_supports(name) != 0}
struct Feature {
    const char* name;
    bool on;
};
#endif

PyObject* features(PyObject*, PyObject*) {
    PyObject* d = PyDict_New();
    if (!d) return nullptr;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    const Feature fs[] = {
        // x86-64-v2 (cmpxchg16b and lahf_lm are in every CPU with SSE4.2 that GCC knows of;
        // GCC 12 tests them as part of "x86-64-v2" below)
        LAMINA_FEATURE("sse3"), LAMINA_FEATURE("ssse3"), LAMINA_FEATURE("sse4.1"),
        LAMINA_FEATURE("sse4.2"), LAMINA_FEATURE("popcnt"),
        // x86-64-v3
        LAMINA_FEATURE("avx"), LAMINA_FEATURE("avx2"), LAMINA_FEATURE("fma"), LAMINA_FEATURE("bmi"),
        LAMINA_FEATURE("bmi2"), LAMINA_FEATURE("f16c"), LAMINA_FEATURE("movbe"),
        // x86-64-v4
        LAMINA_FEATURE("avx512f"), LAMINA_FEATURE("avx512bw"), LAMINA_FEATURE("avx512cd"),
        LAMINA_FEATURE("avx512dq"), LAMINA_FEATURE("avx512vl"),
    };
    for (const Feature& f : fs) {
        if (PyDict_SetItemString(d, f.name, f.on ? Py_True : Py_False) < 0) {
            Py_DECREF(d);
            return nullptr;
        }
    }
#endif
    return d;
}

// The highest x86-64 micro-architecture level supported: 0 (below v2 or not x86-64), 2, 3 or 4.
int level() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
    if (__builtin_cpu_supports("x86-64-v2")) return 2;
    return 0;
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // Older compilers: the same levels from their features (LZCNT is implied by the rest in
    // every known CPU; cmpxchg16b/lahf_lm by SSE4.2).
    __builtin_cpu_init();
#define S(x) __builtin_cpu_supports(x)
    const bool v2 = S("sse3") && S("ssse3") && S("sse4.1") && S("sse4.2") && S("popcnt");
    const bool v3 = v2 && S("avx") && S("avx2") && S("fma") && S("bmi") && S("bmi2") && S("f16c") &&
                    S("movbe");
    const bool v4 = v3 && S("avx512f") && S("avx512bw") && S("avx512cd") && S("avx512dq") &&
                    S("avx512vl");
#undef S
    return v4 ? 4 : v3 ? 3 : v2 ? 2 : 0;
#else
    return 0;
#endif
}

PyObject* py_level(PyObject*, PyObject*) { return PyLong_FromLong(level()); }

PyMethodDef methods[] = {
    {"features", features, METH_NOARGS, "{feature name: supported} for the x86-64-v2/v3/v4 features"},
    {"level", py_level, METH_NOARGS,
     "Highest x86-64 level this CPU and OS run: 0 (below v2 or not x86-64), 2, 3 or 4"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cpuinfo",
                      "Which x86-64 ISA levels this CPU supports (lamina's CPU dispatch)", -1, methods,
                      nullptr, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__cpuinfo(void) { return PyModule_Create(&module); }
