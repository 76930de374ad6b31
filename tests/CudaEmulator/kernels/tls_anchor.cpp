// Part of libnnemu_kernels.so, whose thread-local storage holds nothing but the kernels'
// __shared__ variables (see nnemu_shim.h): touching it makes the loader allocate that storage for
// the calling thread, so the driver can poison it before every block.
static __thread char nnemu_tls_anchor;

extern "C" __attribute__((visibility("default"))) void* nnemu_kernels_touch_tls(void) { return &nnemu_tls_anchor; }
