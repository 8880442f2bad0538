import Dialplan
import Foundation
import Logging
import Media
import NIOConcurrencyHelpers

/// Where dialplans come from and what they may name.
public struct DialplanSource: Sendable {
    /// `Dialplans/`: every `*.yaml` but `holidays.yaml` is a dialplan.
    public var directory: String
    /// `Prompts/`, loaded with the dialplans (a reload picks up new prompts too).
    public var promptDirectory: String
    public var queues: Set<String>
    public var trunks: Set<String>
    /// Dialplans the config's lines name: each must exist.
    public var required: Set<String>

    public init(directory: String, promptDirectory: String, queues: Set<String>, trunks: Set<String>, required: Set<String>) {
        self.directory = directory
        self.promptDirectory = promptDirectory
        self.queues = queues
        self.trunks = trunks
        self.required = required
    }

    public static let calendarFile = "holidays.yaml"
}

/// One validated set of dialplans with the prompts they play: what a call starts on.
public struct DialplanBundle: Sendable {
    public let version: Int
    public let dialplans: [String: Dialplan]
    public let prompts: PromptLibrary
    public let calendar: HolidayCalendar
    public let loadedAt: Date
    public let warnings: [Diagnostic]
}

/// The outcome of the last load attempt, for `GET /v1/dialplans`.
public struct DialplanStatus: Sendable, Codable, Equatable {
    public struct Plan: Sendable, Codable, Equatable {
        public var name: String
        public var file: String
        public var start: String
        public var nodes: Int
        public var languages: [String]
    }
    public var version: Int
    public var loadedAt: Date
    public var dialplans: [Plan]
    public var warnings: [String]
    /// The last reload attempt: when, whether it was taken, and its errors.
    public var lastAttempt: Date
    public var lastAttemptOK: Bool
    public var errors: [String]
}

/// What a dialplan may name: prompts of the prompt folder, queues and trunks of the config.
public struct PromptValidationContext: ValidationContext {
    let prompts: PromptLibrary
    let queues: Set<String>
    let trunks: Set<String>
    public init(prompts: PromptLibrary, queues: Set<String>, trunks: Set<String>) {
        self.prompts = prompts
        self.queues = queues
        self.trunks = trunks
    }
    public func promptExists(_ name: String, language: String) -> Bool { prompts.prompt(name, language: language) != nil }
    public func queueExists(_ name: String) -> Bool { queues.contains(name) }
    public func trunkExists(_ name: String) -> Bool { trunks.contains(name) }
}

/// Holds the current dialplan set and replaces it on reload only when every file is valid;
/// calls keep the bundle they started with.
public final class DialplanRegistry: Sendable {
    private struct State {
        var current: DialplanBundle
        var lastAttempt: Date
        var lastErrors: [Diagnostic] = []
    }
    private let state: NIOLockedValueBox<State>
    private let source: DialplanSource
    private let logger: Logger

    /// Loads the first set; throws its errors (the daemon refuses to start).
    public init(source: DialplanSource, logger: Logger) throws(DialplanErrors) {
        self.source = source
        self.logger = logger
        let bundle = try Self.load(source, version: 1)
        state = NIOLockedValueBox(State(current: bundle, lastAttempt: bundle.loadedAt))
    }

    public var current: DialplanBundle { state.withLockedValue { $0.current } }

    /// Loads every dialplan again; swaps them in only if all are valid.
    @discardableResult
    public func reload() -> Result<Int, DialplanErrors> {
        let next = state.withLockedValue { $0.current.version + 1 }
        do {
            let bundle = try Self.load(source, version: next)
            state.withLockedValue {
                $0.current = bundle
                $0.lastAttempt = bundle.loadedAt
                $0.lastErrors = []
            }
            logger.notice("dialplans reloaded", metadata: [
                "version": "\(next)", "dialplans": "\(bundle.dialplans.keys.sorted().joined(separator: ","))"])
            for warning in bundle.warnings { logger.warning("\(warning)") }
            return .success(next)
        } catch {
            state.withLockedValue {
                $0.lastAttempt = Date()
                $0.lastErrors = error.diagnostics
            }
            logger.error("dialplan reload refused; the running set stays", metadata: ["errors": "\(error.diagnostics.count)"])
            for d in error.diagnostics { logger.error("\(d)") }
            return .failure(error)
        }
    }

    public var status: DialplanStatus {
        state.withLockedValue { s in
            DialplanStatus(
                version: s.current.version, loadedAt: s.current.loadedAt,
                dialplans: s.current.dialplans.values.sorted { $0.name < $1.name }.map {
                    .init(name: $0.name, file: $0.file, start: $0.start.value, nodes: $0.nodes.count, languages: $0.languages)
                },
                warnings: s.current.warnings.map(\.description), lastAttempt: s.lastAttempt, lastAttemptOK: s.lastErrors.isEmpty,
                errors: s.lastErrors.map(\.description))
        }
    }

    /// Reads and checks every dialplan of `source` (the `hotline dialplan check` path too).
    public static func load(_ source: DialplanSource, version: Int) throws(DialplanErrors) -> DialplanBundle {
        let prompts: PromptLibrary
        do { prompts = try PromptLibrary.load(directory: source.promptDirectory) } catch {
            throw DialplanErrors([.error("\(error)", at: SourceLocation(file: source.promptDirectory, line: 1, column: 1))])
        }
        let calendarPath = source.directory + "/" + DialplanSource.calendarFile
        var diagnostics: [Diagnostic] = []
        var calendar = HolidayCalendar(years: [:])
        if FileManager.default.fileExists(atPath: calendarPath) {
            do { calendar = try HolidayCalendar.load(path: calendarPath) } catch {
                diagnostics.append(contentsOf: error.diagnostics)
            }
        }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: source.directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") && $0 != DialplanSource.calendarFile }.sorted()
        let context = PromptValidationContext(prompts: prompts, queues: source.queues, trunks: source.trunks)
        var plans: [String: Dialplan] = [:]
        for file in files {
            let (plan, loadDiagnostics) = DialplanLoader.load(path: source.directory + "/" + file)
            diagnostics.append(contentsOf: loadDiagnostics)
            guard let plan else { continue }
            diagnostics.append(contentsOf: DialplanValidator.validate(plan, context: context))
            plans[plan.name] = plan
        }
        for name in source.required.sorted() where plans[name] == nil && !diagnostics.contains(where: { $0.severity == .error }) {
            diagnostics.append(.error(
                "dialplan '\(name)' named by a line does not exist", at: SourceLocation(file: source.directory + "/" + name + ".yaml", line: 1, column: 1)))
        }
        let errors = diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty else { throw DialplanErrors(errors) }
        return DialplanBundle(
            version: version, dialplans: plans, prompts: prompts, calendar: calendar, loadedAt: Date(),
            warnings: diagnostics.filter { $0.severity == .warning })
    }
}
