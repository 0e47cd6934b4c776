#pragma once
// What a fuzz target asserts besides "no crash, no leak, no UB": a broken
// property prints what it expected and aborts, which libFuzzer records as a
// crash with the input that caused it. (assert() would vanish under NDEBUG.)
#include <cstdio>
#include <cstdlib>

#define HERALD_FUZZ_CHECK(cond)                                                          \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);  \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
