import CFuzzDriver

#if canImport(Glibc)
    import Glibc
#endif

// libFuzzer's loop over fuzzStage2Spec (its flags and corpus directories are the arguments).
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzStage2Spec(data!, size) })
