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
        let (spec, test) = try decode(bytes, file: file)
        // Build each variant once for a host that has everything, to find errors now; what
        // this host lacks (a skip) is decided at run time.
        for i in spec.variants.indices {
            if case .failed(let e) = build(spec, variant: i, file: file, host: .validation) { throw e }
        }
        return test
    }

    /// `harness check`: decodes `bytes` and builds every variant for each host in `hosts`,
    /// collecting every error (not only the first) and what a host decides (not checked).
    public static func check(_ bytes: [UInt8], file: String, hosts: [HostFacts] = HostFacts.checked) -> ScenarioCheck {
        let spec: ScenarioFile
        let test: CatalogTest
        do { (spec, test) = try decode(bytes, file: file) } catch { return ScenarioCheck(test: nil, errors: [error], notChecked: []) }
        var result = ScenarioCheck(test: test, errors: [], notChecked: [])
        for (i, v) in spec.variants.enumerated() {
            for host in hosts {
                let on = host.hostPageSize == HostFacts.validation.hostPageSize ? "" : " (with \(host.hostPageSize >> 10) KiB host pages)"
                switch build(spec, variant: i, file: file, host: host) {
                case .built: continue
                case .failed(var e):
                    e.message += on
                    result.errors.append(e)
                case .notChecked(let why):
                    result.notChecked.append("\(file): $.variants[\(i)]: variant '\(v.name)': not checked\(on): \(why)")
                }
                break  // one report per variant: the first host it does not build for
            }
        }
        return result
    }

    /// Reads `path` and checks it (`check(_:file:hosts:)`).
    public static func check(path: String, hosts: [HostFacts] = HostFacts.checked) -> ScenarioCheck {
        do { return check(try readFile(path), file: path, hosts: hosts) } catch {
            return ScenarioCheck(test: nil, errors: [error], notChecked: [])
        }
    }

    enum BuildResult {
        case built
        case failed(ScenarioFileError)
        /// The host lacks what the variant needs (its run would be a skip): the reason.
        case notChecked(String)
    }

    /// Builds variant `i` for `host`; any error but a skip is the file's, named with its variant.
    static func build(_ spec: ScenarioFile, variant i: Int, file: String, host: HostFacts) -> BuildResult {
        do {
            _ = try ScenarioBuilder(spec: spec, variant: i, file: file).build(host: host)
            return .built
        } catch let e as ScenarioFileError {
            return .failed(e)
        } catch SessionError.skip(let why) {
            return .notChecked(why)
        } catch {
            return .failed(
                ScenarioFileError(file: file, path: "$.variants[\(i)]", message: "variant '\(spec.variants[i].name)': \(error)"))
        }
    }

    /// Decodes `bytes` and makes its CatalogTest (requirements, known failures), building nothing.
    static func decode(_ bytes: [UInt8], file: String) throws(ScenarioFileError) -> (ScenarioFile, CatalogTest) {
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
        return (spec, try ScenarioBuilder.catalogTest(spec, file: file))
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
