#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Reads scenario files: JSON decoded with Foundation's JSONDecoder, every object checked
/// for unknown keys, then every variant built once (expressions, regions, events) so a
/// mistake anywhere is found before anything runs.
public enum ScenarioLoader {
    /// Decodes and validates `bytes` (the text of `file`).
    public static func load(_ bytes: [UInt8], file: String) throws(ScenarioFileError) -> CatalogTest {
        let spec: ScenarioFile
        do {
            spec = try JSONDecoder().decode(ScenarioFile.self, from: Data(bytes))
        } catch let e as DecodingError {
            if case .dataCorrupted(let ctx) = e, ctx.codingPath.isEmpty, let bad = JSONSyntaxLocator.firstError(in: bytes) {
                throw ScenarioFileError(
                    file: file, path: "line \(bad.line), column \(bad.column)",
                    message: "not valid JSON: expected \(bad.expected)")
            }
            throw ScenarioFileError(file: file, decoding: e)
        } catch {
            throw ScenarioFileError(file: file, path: "$", message: "\(error)")
        }
        let test = try ScenarioBuilder.catalogTest(spec, file: file)
        // Build each variant once for a host that has everything, to find errors now.
        for (i, v) in spec.variants.enumerated() {
            do {
                _ = try ScenarioBuilder(spec: spec, variant: i, file: file).build(host: .validation)
            } catch let e as ScenarioFileError {
                throw e
            } catch SessionError.skip {
                continue  // the validation host lacks something this variant needs: decided at run time
            } catch {
                throw ScenarioFileError(file: file, path: "$.variants[\(i)]", message: "variant '\(v.name)': \(error)")
            }
        }
        return test
    }

    /// Reads and loads the file at `path`.
    public static func load(path: String) throws(ScenarioFileError) -> CatalogTest {
        try load(try readFile(path), file: path)
    }

    static func readFile(_ path: String) throws(ScenarioFileError) -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw ScenarioFileError(file: path, path: "$", message: "cannot open: " + String(cString: strerror(errno)))
        }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out += buf[0..<n] }
            if n < buf.count {
                if ferror(f) != 0 { throw ScenarioFileError(file: path, path: "$", message: "read error") }
                break
            }
            if out.count > 16 << 20 { throw ScenarioFileError(file: path, path: "$", message: "larger than 16 MiB: not a scenario file") }
        }
        return out
    }
}
