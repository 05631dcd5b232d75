import Foundation
import PackagePlugin

/// Builds the vEL2 payload from the top-level `guest/` folder with the toolchain's own
/// clang, ld.lld and llvm-objcopy (found by `context.tool(named:)`, which also works in
/// the Debian cross build where they are not on PATH) and emits `PayloadImage+Bytes.swift`.
///
/// The programs run through `/bin/sh guest/build.sh` rather than a compiled helper tool:
/// a helper executable would be linked for the build host with the target's flags, and
/// `-static-executable` in the cross build breaks that link. Only the generated `.swift`
/// is declared as output: any other declared output would become a bundled resource.
@main
struct PayloadBuilder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let guest = context.package.directoryURL.appending(path: "guest")
        let work = context.pluginWorkDirectoryURL.appending(path: "payload")
        let output = context.pluginWorkDirectoryURL.appending(path: "PayloadImage+Bytes.swift")
        let clang = try context.tool(named: "clang").url
        let lld = try context.tool(named: "ld.lld").url
        let objcopy = try context.tool(named: "llvm-objcopy").url
        let inputs = [
            "build.sh", "payload.ld", "include/mailbox.h", "src/payload.S", "src/monitor.c",
        ].map { guest.appending(path: $0) }
        return [
            .buildCommand(
                displayName: "Building the vEL2 payload from guest/",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [
                    guest.appending(path: "build.sh").path, clang.path, lld.path, objcopy.path,
                    guest.path, work.path, output.path,
                ],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
