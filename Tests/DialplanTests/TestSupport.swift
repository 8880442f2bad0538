import Foundation

@testable import Dialplan

/// Prompts, queues and trunks as the tests' configuration has them.
struct FakeContext: ValidationContext {
    /// Prompts recorded in every language (those of the sample dialplans, and a few more).
    static let prompts: Set<String> = [
        "welcome", "emergency-notice", "holiday-notice", "choose-language", "repeat-caller", "main-menu", "invalid", "no-input",
        "policy-intro", "complaints-intro", "enter-ticket", "invalid-ticket", "ticket-status", "ticket-not-found", "ticket-unavailable",
        "after-ticket", "enterprise-intro", "elderly-intro", "transferring", "all-busy", "after-hours", "leave-message", "message-saved",
        "goodbye", "survey-question", "survey-thanks",
    ]
    /// Recorded only in Mandarin.
    static let zhOnlyPrompts: Set<String> = ["zh-only"]

    var languages: Set<String> = ["zh-CN", "en-US"]

    func promptExists(_ name: String, language: String) -> Bool {
        guard languages.contains(language) else { return false }
        return Self.prompts.contains(name) || (language == "zh-CN" && Self.zhOnlyPrompts.contains(name))
    }

    func queueExists(_ name: String) -> Bool { ["general", "enterprise"].contains(name) }
    func trunkExists(_ name: String) -> Bool { name == "carrier" }
}

enum Paths {
    /// Tests/DialplanTests (this file's folder).
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// The repository: `Tests/DialplanTests/<file>` up three levels.
    static let repository = tests.deletingLastPathComponent().deletingLastPathComponent()
    static let broken = tests.appendingPathComponent("Broken")
}

/// Loads and, if the loader found no error, validates: every diagnostic, sorted.
func check(path: String, displayPath: String, context: FakeContext = FakeContext()) -> (Dialplan?, [Diagnostic]) {
    DialplanValidator.check(path: path, displayPath: displayPath, context: context)
}

/// Parses `yaml` (named `test.yaml`) and validates it if it loaded.
func check(yaml: String, context: FakeContext = FakeContext()) -> (Dialplan?, [Diagnostic]) {
    let (plan, loadDiagnostics) = DialplanLoader.parse(yaml: yaml, file: "test.yaml", name: "test", directory: Paths.tests.path)
    guard let plan else { return (nil, loadDiagnostics) }
    return (plan, loadDiagnostics + DialplanValidator.validate(plan, context: context))
}
