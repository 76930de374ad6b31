// Exits 0 when a real CUDA driver on the default loader path finds a device (prints its name),
// else 1 with the reason. Used by the Test target to choose a real GPU over the emulator.
#include <dlfcn.h>
#include <stdio.h>

typedef int (*init_fn)(unsigned);
typedef int (*count_fn)(int*);
typedef int (*name_fn)(char*, int, int);

int main(void) {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("no libcuda.so.1 on the loader path\n"); return 1; }
    if (dlsym(lib, "nnemu_is_emulator")) { printf("libcuda.so.1 on the loader path is the emulator\n"); return 1; }
    init_fn init = (init_fn)dlsym(lib, "cuInit");
    count_fn count = (count_fn)dlsym(lib, "cuDeviceGetCount");
    name_fn name = (name_fn)dlsym(lib, "cuDeviceGetName");
    if (!init || !count || !name) { printf("libcuda.so.1 lacks cuInit/cuDeviceGetCount/cuDeviceGetName\n"); return 1; }
    int r = init(0);
    if (r != 0) { printf("cuInit failed with status %d\n", r); return 1; }
    int n = 0;
    if (count(&n) != 0 || n < 1) { printf("cuInit succeeded but there is no device\n"); return 1; }
    char buf[256] = {0};
    name(buf, sizeof buf, 0);
    printf("%s\n", buf);
    return 0;
}
