// Registers the CPU build of each kernel with the emulated driver, with its C++ parameter types,
// so a launch can be checked against the PTX signature and unpacked type-safely.
#pragma once
#include <stddef.h>
#include <type_traits>
#include <utility>

struct nnemu_param {
    size_t size;
    bool pointer;
    bool floating;
    size_t pointee_align;  // alignment a pointer argument must have (1 for non-pointers and void*)
};

template <typename A>
constexpr size_t nnemu_pointee_align() {
    if constexpr (std::is_pointer<A>::value && !std::is_void<std::remove_pointer_t<A>>::value)
        return alignof(std::remove_pointer_t<A>);
    else
        return 1;
}
typedef void (*nnemu_invoke)(void* fn, void** args);

extern "C" void nnemu_register_kernel(const char* name, const char* file, void* fn, nnemu_invoke invoke,
                                      const nnemu_param* params, int count);

template <typename... A>
struct NnemuCall {
    template <size_t... I>
    static void call(void* fn, void** args, std::index_sequence<I...>) {
        ((void (*)(A...))fn)(*static_cast<std::remove_cv_t<A>*>(args[I])...);
    }
    static void invoke(void* fn, void** args) { call(fn, args, std::index_sequence_for<A...>{}); }
};

template <typename... A>
int nnemu_reg(const char* name, const char* file, void (*fn)(A...)) {
    static const nnemu_param params[sizeof...(A) + 1] = {
        {sizeof(A), std::is_pointer<A>::value, std::is_floating_point<A>::value, nnemu_pointee_align<A>()}..., {0, false, false, 1}};
    nnemu_register_kernel(name, file, (void*)fn, &NnemuCall<A...>::invoke, params, (int)sizeof...(A));
    return 0;
}

#define NNEMU_REGISTER(name) static int nnemu_registered_##name = nnemu_reg(#name, NNEMU_FILE, &name);
