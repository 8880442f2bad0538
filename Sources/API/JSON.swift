import Events
import Foundation
import HotlineCore
import Hummingbird
import NIOCore

/// A JSON document under construction: ordered object members, and raw fragments for JSON the
/// store already holds (CloudEvents, CDRs), which are spliced in as they are, not re-encoded.
indirect enum JSONFragment: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONFragment])
    case object([(String, JSONFragment)])
    /// Bytes that are already one JSON value.
    case raw([UInt8])

    static func optional(_ s: String?) -> JSONFragment { s.map { .string($0) } ?? .null }
    static func optional(_ d: Date?) -> JSONFragment { d.map { .string(RFC3339.format($0)) } ?? .null }
    static func optional(_ d: Double?) -> JSONFragment { d.map { .double($0) } ?? .null }
    static func date(_ d: Date) -> JSONFragment { .string(RFC3339.format(d)) }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            // JSON has no NaN or infinity.
            if d.isFinite { out.append(contentsOf: "\(d)".utf8) } else { out.append(contentsOf: "null".utf8) }
        case .string(let s): Self.writeString(s, into: &out)
        case .raw(let r): out.append(contentsOf: r)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)  // UTF-8 passes through
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONFragment {
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(JSONFragment.init))
        case .object(let o): self = .object(o.sorted { $0.key < $1.key }.map { ($0.key, JSONFragment($0.value)) })
        }
    }
}

/// An API error: a 4xx/5xx status with `{"error": {"code": ..., "message": ...}}`.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response() -> Response {
        let body = JSONFragment.object([
            ("error", .object([("code", .string(code)), ("message", .string(message))]))
        ])
        return Response.json(body, status: status)
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    static func storeUnavailable(_ error: any Error) -> APIError {
        APIError(.serviceUnavailable, "store-unavailable", "the event store failed: \(error)")
    }
}

extension Response {
    static func json(_ body: JSONFragment, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = body.bytes
        bytes.append(0x0A)
        return Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
