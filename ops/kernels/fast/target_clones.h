// HEED_TARGET_CLONES("avx512f", "avx2", "default") before a function compiles it
// once per listed CPU; the program picks the best one for the CPU it runs on
// when it loads (GCC's target_clones, which clang has too). A kernel that fuses
// multiply-adds lists "arch=x86-64-v3" instead of "avx2": AVX2 with FMA, which
// every AVX2 CPU has ("avx2" alone does not let the compiler use FMA).
//
// The pick runs in an IFUNC resolver, before main and before a sanitizer's
// runtime has started. ThreadSanitizer's instrumentation of the resolver then
// crashes the program before it begins, so under TSan each function is compiled
// once, for the default CPU: slower, and the same numbers (-ffp-contract=off
// makes every version compute alike).
#pragma once

#if defined(__SANITIZE_THREAD__)  // g++ -fsanitize=thread
#define HEED_NO_TARGET_CLONES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)  // clang -fsanitize=thread
#define HEED_NO_TARGET_CLONES 1
#endif
#endif

#ifdef HEED_NO_TARGET_CLONES
#define HEED_TARGET_CLONES(...)
#else
#define HEED_TARGET_CLONES(...) [[gnu::target_clones(__VA_ARGS__)]]
#endif
