import Foundation
import XCTest
@testable import SIPMessages

struct TestDataMissing: Error, CustomStringConvertible {
    var description: String
}

/// Access to the RFC 4475 torture messages in `<repo>/../shared/testdata/rfc4475`.
enum RFC4475 {
    struct Entry {
        var file: String
        var section: String
        var title: String
        var expected: String
    }

    /// Walks up from this source file until a directory whose parent holds
    /// `shared/testdata/rfc4475/INDEX.tsv` (i.e. the repository root's sibling).
    static func directory(file: StaticString = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        for _ in 0..<12 {
            let candidate = dir.appendingPathComponent("shared/testdata/rfc4475")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("INDEX.tsv").path) {
                return candidate
            }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw TestDataMissing(description: "RFC 4475 test data (shared/testdata/rfc4475) not found above \(file)")
    }

    static func index() throws -> [Entry] {
        let url = try directory().appendingPathComponent("INDEX.tsv")
        let content = try String(contentsOf: url, encoding: .utf8)
        var entries: [Entry] = []
        for line in content.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard cols.count >= 4 else { continue }
            entries.append(Entry(file: cols[0], section: cols[1], title: cols[2], expected: cols[3]))
        }
        if entries.isEmpty { throw TestDataMissing(description: "INDEX.tsv is empty") }
        return entries
    }

    static func load(_ name: String) throws -> [UInt8] {
        let file = name.hasSuffix(".dat") ? name : name + ".dat"
        let data = try Data(contentsOf: try directory().appendingPathComponent(file))
        return [UInt8](data)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

extension SIPMessage {
    var requestOrFail: SIPRequest {
        get throws {
            guard case .request(let r) = self else { throw TestDataMissing(description: "expected a request") }
            return r
        }
    }
    var responseOrFail: SIPResponse {
        get throws {
            guard case .response(let r) = self else { throw TestDataMissing(description: "expected a response") }
            return r
        }
    }
}
