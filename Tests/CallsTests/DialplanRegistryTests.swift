import Dialplan
import Foundation
import Logging
import XCTest

@testable import Calls

/// Reload semantics: a valid edit replaces the set (new version), an invalid one changes
/// nothing and is reported; a bundle taken before a reload is unaffected.
final class DialplanRegistryTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func makeFolder() throws -> String {
        let dir = NSTemporaryDirectory() + "registry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/lists", withIntermediateDirectories: true)
        for file in ["12345.yaml", "callback-survey.yaml", "holidays.yaml", "lists/elderly-callers.txt"] {
            try FileManager.default.copyItem(atPath: Self.repo.path + "/Dialplans/" + file, toPath: dir + "/" + file)
        }
        return dir
    }

    func source(_ dir: String) -> DialplanSource {
        DialplanSource(directory: dir, promptDirectory: Self.repo.path + "/Prompts", queues: ["general", "enterprise"], trunks: [],
                       required: ["12345"])
    }

    func testValidEditIsTakenInvalidEditIsRefused() throws {
        let dir = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let registry = try DialplanRegistry(source: source(dir), logger: Logger(label: "test"))
        let first = registry.current
        XCTAssertEqual(first.version, 1)
        XCTAssertEqual(Set(first.dialplans.keys), ["12345", "callback-survey"])
        XCTAssertEqual(first.warnings.map(\.description), [])

        // A valid edit: the goodbye node gets the message-saved prompt.
        let path = dir + "/12345.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "    - hangup: { prompt: goodbye }", with: "    - hangup: { prompt: message-saved }")
            .write(toFile: path, atomically: true, encoding: .utf8)
        guard case .success(2) = registry.reload() else { return XCTFail("valid edit refused: \(registry.status.errors)") }
        XCTAssertEqual(registry.current.version, 2)
        XCTAssertTrue(registry.status.lastAttemptOK)

        // An invalid edit: an unknown node. Nothing changes; the error names file:line:column.
        try text.replacingOccurrences(of: "        on-failure: goodbye\n\n  policy:", with: "        on-failure: goodby\n\n  policy:")
            .write(toFile: path, atomically: true, encoding: .utf8)
        guard case .failure(let errors) = registry.reload() else { return XCTFail("invalid edit taken") }
        XCTAssertEqual(errors.diagnostics.count, 1)
        XCTAssertTrue(errors.diagnostics[0].description.hasPrefix(path + ":"), errors.description)
        XCTAssertTrue(errors.diagnostics[0].description.contains("unknown node 'goodby'"), errors.description)
        XCTAssertEqual(registry.current.version, 2)
        XCTAssertFalse(registry.status.lastAttemptOK)
        XCTAssertEqual(registry.status.errors, errors.diagnostics.map(\.description))
        // The bundle a call took at version 1 still has its own dialplan.
        XCTAssertEqual(first.dialplans["12345"]?.nodes["goodbye"]?.steps.count, 1)

        // A broken YAML file is refused too.
        try "nodes: [".write(toFile: path, atomically: true, encoding: .utf8)
        guard case .failure = registry.reload() else { return XCTFail("broken YAML taken") }
        XCTAssertEqual(registry.current.version, 2)
    }

    func testMissingDialplanOfALineRefusesTheStart() throws {
        let dir = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = source(dir)
        s.required = ["12345", "12399"]
        XCTAssertThrowsError(try DialplanRegistry(source: s, logger: Logger(label: "test"))) { error in
            XCTAssertTrue("\(error)".contains("dialplan '12399' named by a line does not exist"), "\(error)")
        }
    }
}
