import Foundation
import XCTest

@testable import Dialplan

/// Every file in Broken/ starts with `# expect:` lines: the exact diagnostics, in order, that
/// checking it (load, then validate) gives when it is named `Broken/<file>`.
final class BrokenDialplanTests: XCTestCase {
    func brokenFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: Paths.broken, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// The leading `# expect: ...` lines of a file.
    func expectations(of url: URL) throws -> [String] {
        let text = try String(contentsOf: url, encoding: .utf8)
        let prefix = "# expect: "
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .prefix { $0.hasPrefix(prefix) }
            .map { String($0.dropFirst(prefix.count)) }
    }

    func testEveryBrokenFileGivesExactlyItsExpectedDiagnostics() throws {
        let files = try brokenFiles()
        XCTAssertGreaterThanOrEqual(files.count, 20)
        for url in files {
            let displayPath = "Broken/\(url.lastPathComponent)"
            let expected = try expectations(of: url)
            XCTAssertFalse(expected.isEmpty, "\(displayPath) has no '# expect:' line")
            let (plan, diagnostics) = check(path: url.path, displayPath: displayPath)
            XCTAssertEqual(diagnostics.map(\.description), expected, displayPath)
            XCTAssertNil(plan, "\(displayPath) is broken: no dialplan")
            XCTAssertTrue(diagnostics.contains(where: \.isError), "\(displayPath) gives an error")
        }
    }

    func testDiagnosticsAreSortedByLocation() throws {
        for url in try brokenFiles() {
            let (_, diagnostics) = check(path: url.path, displayPath: "x.yaml")
            for (a, b) in zip(diagnostics, diagnostics.dropFirst()) {
                XCTAssertFalse(b.location < a.location, "\(url.lastPathComponent): \(b) after \(a)")
            }
        }
    }

    /// Prints what each file gives (DIALPLAN_DUMP=1): for writing `# expect:` lines.
    func testDump() throws {
        guard ProcessInfo.processInfo.environment["DIALPLAN_DUMP"] != nil else { return }
        for url in try brokenFiles() {
            let displayPath = "Broken/\(url.lastPathComponent)"
            print("==", displayPath)
            for d in check(path: url.path, displayPath: displayPath).1 { print("# expect: \(d)") }
        }
    }
}
