// fuzz_check: what a harness does when a property fails: print it and abort, so libFuzzer
// saves the input as a crash artifact (a harness runs without doctest).
#pragma once

#include <cstdio>
#include <cstdlib>

#define SB_FUZZ_CHECK(cond)                                                                \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
