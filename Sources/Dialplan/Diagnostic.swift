import Foundation

/// A problem found in a dialplan, printed like a compiler message:
/// `Dialplans/12345.yaml:12:7: error: unknown node 'mian'`.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable, Equatable {
        /// The dialplan cannot be used.
        case error
        /// The dialplan works, but probably not as meant.
        case warning
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public static func error(_ message: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(.error, at: location, message)
    }

    public static func warning(_ message: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(.warning, at: location, message)
    }

    public var isError: Bool { severity == .error }

    public var description: String {
        "\(location.file):\(location.line):\(location.column): \(severity.rawValue): \(message)"
    }
}

/// The errors that make a dialplan unusable (thrown where a caller wants `throws`).
public struct DialplanErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

extension Array where Element == Diagnostic {
    /// Sorted by file, line and column; diagnostics at the same place keep their order.
    func sortedByLocation() -> [Diagnostic] {
        enumerated()
            .sorted { a, b in a.element.location == b.element.location ? a.offset < b.offset : a.element.location < b.element.location }
            .map(\.element)
    }
}
