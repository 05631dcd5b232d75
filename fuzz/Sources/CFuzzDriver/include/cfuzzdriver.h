#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (compiler-rt FuzzerDriver.cpp): runs the fuzzing loop with `callback`
   as the target and libFuzzer's own command line. Used from a Swift main because SwiftPM
   renames an executable's main, so libFuzzer's main cannot be the entry point. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
