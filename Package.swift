// swift-tools-version: 6.0
// Keep the tools version at 6.2 or lower: the aarch64 cross build uses Debian's Swift 6.2.3.
import PackageDescription

let package = Package(
    name: "nvharness",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "harness", targets: ["harness"]),
        .library(name: "Stage2", targets: ["Stage2"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // Pure architecture values: typed addresses, ESR/FAR/HPFAR decoding, system-register ids.
        .target(name: "AArch64"),
        // Stage-2 translation tables: builder, walker, dump (pure, no KVM).
        .target(name: "Stage2", dependencies: ["AArch64"]),
        // The `stage2 build` spec: a strict JSON reader, the validated spec and the table build
        // from it (a library so the fuzz targets in fuzz/ can link it).
        .target(name: "Stage2Spec", dependencies: ["Stage2", "AArch64", "Reporting"]),
        // The seed's stage-2 algorithm re-implemented in C: baseline for `harness bench stage2`.
        .target(name: "Stage2SeedBaseline", cSettings: [.unsafeFlags(["-O2"])]),
        // C shim over <linux/kvm.h>: ioctl numbers and struct layouts come from the kernel headers.
        .target(name: "CKVM"),
        // Thin owning wrappers over the KVM uAPI.
        .target(name: "KVM", dependencies: ["CKVM", "AArch64"]),
        // The mailbox ABI shared with the vEL2 payload (mirrored in guest/include/mailbox.h).
        .target(name: "GuestProtocol", dependencies: ["AArch64"]),
        // The vEL2 payload image, built from guest/ by the PayloadBuilder plugin.
        .target(name: "GuestPayload", dependencies: ["GuestProtocol"], plugins: ["PayloadBuilder"]),
        // Builds guest/ with the toolchain's clang + ld.lld into GuestPayload's generated source.
        .plugin(name: "PayloadBuilder", capability: .buildTool()),
        // Minimal C run loops: the baseline `harness bench exits` compares against.
        .target(name: "CExitBaseline", cSettings: [.headerSearchPath("../../guest/include")]),
        // Guest memory, layout, vGIC, EL2 vCPU, run loop with watchdog.
        .target(name: "Machine", dependencies: ["KVM", "Stage2", "GuestProtocol", "GuestPayload", "AArch64"]),
        // The built-in scenario files (catalog/*.json), embedded by the CatalogEmbedder plugin.
        .target(name: "CatalogFiles", plugins: ["CatalogEmbedder"]),
        // Writes catalog/*.json into CatalogFiles' generated source.
        .plugin(name: "CatalogEmbedder", capability: .buildTool()),
        // What runs a test: guest sessions, backends, the session layout, the scenario model and
        // runner with its checks, and the scenario-file format (loader, builder).
        .target(name: "Runtime", dependencies: ["Machine", "KVM", "Stage2", "GuestProtocol", "GuestPayload", "AArch64"]),
        // The built-in tests: the embedded catalog/*.json files.
        .target(name: "TestCatalog", dependencies: ["Runtime", "Machine", "Stage2", "GuestProtocol", "AArch64", "CatalogFiles"]),
        // Temporary files removed on SIGINT/SIGTERM (the atomic writer's; a handler needs C buffers).
        .target(name: "CTempFiles"),
        // Result model, output formats (human/TAP/JUnit/JSON), exit policy, --filter globs, seeded PRNG.
        // Its file writes and uname go through Machine's safe wrappers.
        .target(name: "Reporting", dependencies: ["CTempFiles", "Machine"]),
        // The host kernel's health around each test: /dev/kmsg splats, taint bits, marker lines.
        .target(name: "HostHealth", dependencies: ["Machine"]),
        .executableTarget(
            name: "harness",
            dependencies: [
                "AArch64", "Stage2", "Stage2Spec", "Stage2SeedBaseline", "KVM", "Machine", "Runtime", "TestCatalog", "GuestProtocol",
                "Reporting",
                "CExitBaseline", "HostHealth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "AArch64Tests", dependencies: ["AArch64"]),
        .testTarget(name: "Stage2Tests", dependencies: ["Stage2", "AArch64"]),
        .testTarget(name: "KVMTests", dependencies: ["KVM", "CKVM", "AArch64"]),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "KVM", "Stage2", "AArch64", "GuestProtocol"]),
        .testTarget(name: "GuestProtocolTests", dependencies: ["GuestProtocol", "GuestPayload"]),
        .testTarget(
            name: "TestCatalogTests", dependencies: ["Runtime", "TestCatalog", "CatalogFiles", "GuestProtocol", "Stage2", "AArch64"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting"]),
        .testTarget(name: "HostHealthTests", dependencies: ["HostHealth", "Machine"]),
        .testTarget(name: "HarnessTests", dependencies: ["harness", "Stage2", "AArch64"]),
    ]
)

// libFuzzer targets (fuzz/, run by scripts/fuzz), declared only when NVH_FUZZ=1: each main
// calls libFuzzer's driver, which only a -sanitize=fuzzer build links.
if Context.environment["NVH_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CFuzzDriver", path: "fuzz/Sources/CFuzzDriver"),
        .executableTarget(
            name: "fuzz-stage2-spec", dependencies: ["CFuzzDriver", "Stage2Spec", "Stage2", "AArch64"], path: "fuzz/Sources/FuzzStage2Spec"),
        .executableTarget(
            name: "fuzz-stage2-image", dependencies: ["CFuzzDriver", "Stage2", "AArch64"], path: "fuzz/Sources/FuzzStage2Image"),
    ]
}
