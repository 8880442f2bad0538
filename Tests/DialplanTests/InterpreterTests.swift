import Foundation
import HotlineCore
import Logging
import NIOConcurrencyHelpers
import XCTest

@testable import Dialplan

/// A call driven by a script of key presses on a virtual clock: prompts take one second each,
/// waits for keys advance the clock to the key or the timeout. Nothing sleeps.
final class FakeCall: DialplanCall, @unchecked Sendable {
    let id = CallIdentifier(rawValue: "c0ffee")
    let callerNumber: String
    let calledNumber: String

    struct State {
        var now: Date
        /// Key presses at absolute virtual times.
        var keys: [(at: Date, key: Character)] = []
        var hangupAt: Date?
        var answered = 0
        var played: [(prompt: String, language: String, voice: String)] = []
        var said: [String] = []
        var events: [(type: String, data: [String: JSONValue])] = []
        var hungUp = false
        var queueOutcome: QueueOutcome = .left(reason: "TIMEOUT")
        var queued: [QueueRequest] = []
        var dialOutcome: DialOutcome = .failed(status: "no-answer")
        var dialled: [DialRequest] = []
        var webhookResult: WebhookResult = .failed(reason: "timeout")
        var webhooks: [WebhookRequest] = []
        var message: RecordedMessage?
    }
    let state: NIOLockedValueBox<State>

    init(caller: String = "13800138000", called: String = "12345", start: Date) {
        callerNumber = caller
        calledNumber = called
        state = NIOLockedValueBox(State(now: start))
    }

    var now: Date { state.withLockedValue { $0.now } }

    /// Presses `keys` one per second starting `after` seconds from now.
    func press(_ keys: String, after seconds: Double = 0.5, every spacing: Double = 0.5) {
        state.withLockedValue { s in
            var t = s.now + seconds
            for k in keys {
                s.keys.append((t, k))
                t += spacing
            }
            s.keys.sort { $0.at < $1.at }
        }
    }

    func hangUp(after seconds: Double) {
        state.withLockedValue { $0.hangupAt = $0.now + seconds }
    }

    private func checkAlive() throws(CallEnded) {
        let gone = state.withLockedValue { s in s.hungUp || (s.hangupAt.map { s.now >= $0 } ?? false) }
        if gone { throw CallEnded(cause: .callerHangup) }
    }

    func answer() async throws(CallEnded) {
        try checkAlive()
        state.withLockedValue { $0.answered += 1 }
    }

    func play(_ prompts: [String], language: String, voice: String, interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        for p in prompts {
            try checkAlive()
            let outcome = state.withLockedValue { s -> PlaybackOutcome? in
                s.played.append((p, language, voice))
                let end = s.now + 1
                if interruptible, let first = s.keys.first, first.at < end {
                    s.now = max(s.now, first.at)
                    return .interrupted(by: first.key)
                }
                s.now = end
                return nil
            }
            if let outcome { return outcome }
        }
        try checkAlive()
        return .finished
    }

    func say(_ text: String, language: String, voice: String, interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        try checkAlive()
        state.withLockedValue {
            $0.said.append(text)
            $0.now += 2
        }
        return .finished
    }

    func collectDigit(timeout: Duration) async throws(CallEnded) -> Character? {
        try checkAlive()
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let key = state.withLockedValue { s -> Character? in
            let deadline = s.now + seconds
            if let hangup = s.hangupAt, hangup < deadline, s.keys.first.map({ $0.at > hangup }) ?? true {
                s.now = hangup
                return nil
            }
            if let first = s.keys.first, first.at <= deadline {
                s.keys.removeFirst()
                s.now = max(s.now, first.at)
                return first.key
            }
            s.now = deadline
            return nil
        }
        try checkAlive()
        return key
    }

    func enqueue(_ request: QueueRequest) async throws(CallEnded) -> QueueOutcome {
        try checkAlive()
        return state.withLockedValue {
            $0.queued.append(request)
            $0.now += 30
            return $0.queueOutcome
        }
    }

    func dial(_ request: DialRequest) async throws(CallEnded) -> DialOutcome {
        try checkAlive()
        return state.withLockedValue {
            $0.dialled.append(request)
            return $0.dialOutcome
        }
    }

    func recordMessage(_ request: MessageRequest) async throws(CallEnded) -> RecordedMessage? {
        try checkAlive()
        return state.withLockedValue {
            $0.now += 10
            return $0.message
        }
    }

    func webhook(_ request: WebhookRequest) async -> WebhookResult {
        state.withLockedValue {
            $0.webhooks.append(request)
            $0.now += 1
            return $0.webhookResult
        }
    }

    func emit(_ type: String, _ data: [String: JSONValue]) {
        state.withLockedValue { $0.events.append((type, data)) }
    }

    func hangup() async {
        state.withLockedValue { $0.hungUp = true }
    }

    // MARK: Reading what happened

    var prompts: [String] { state.withLockedValue { $0.played.map(\.prompt) } }
    var nodes: [String] {
        state.withLockedValue { s in
            s.events.filter { $0.type == CallEventType.ivrNode }.compactMap { e -> String? in
                if case .string(let n)? = e.data["node"] { return n }
                return nil
            }
        }
    }
    var inputs: [String] {
        state.withLockedValue { s in
            s.events.filter { $0.type == CallEventType.ivrInput }.compactMap { e -> String? in
                guard case .string(let input)? = e.data["input"], case .string(let result)? = e.data["result"] else { return nil }
                return "\(input):\(result)"
            }
        }
    }
    var hungUp: Bool { state.withLockedValue { $0.hungUp } }
}

final class InterpreterTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    /// A local time in Shanghai.
    func at(_ text: String) -> Date {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        f.timeZone = shanghai
        return f.date(from: text)!
    }

    func plan(_ yaml: String, file: String = "test.yaml") throws -> Dialplan {
        let (plan, diagnostics) = DialplanLoader.parse(yaml: yaml, file: file, name: "test", directory: NSTemporaryDirectory())
        XCTAssertEqual(diagnostics.filter { $0.severity == .error }.map(\.description), [])
        return try XCTUnwrap(plan)
    }

    func sample(_ name: String) throws -> Dialplan {
        let path = Self.repo.appendingPathComponent("Dialplans/\(name).yaml").path
        let (plan, diagnostics) = DialplanLoader.load(path: path)
        XCTAssertEqual(diagnostics.filter { $0.severity == .error }.map(\.description), [])
        return try XCTUnwrap(plan)
    }

    func calendar() throws -> HolidayCalendar {
        try HolidayCalendar.load(path: Self.repo.appendingPathComponent("Dialplans/holidays.yaml").path)
    }

    func run(_ plan: Dialplan, _ call: FakeCall, variables: [String: String] = [:], language: String? = nil) async throws -> DialplanRunOutcome {
        let interpreter = DialplanInterpreter(
            plan: plan, version: 7, calendar: try calendar(), now: { call.now }, logger: Logger(label: "test"))
        return await interpreter.run(call, language: language, variables: variables)
    }

    // MARK: The sample 12345 menu

    func testTicketProgressBranchSpeaksTheStatusFromTheWebhook() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))   // a Monday, a workday
        call.state.withLockedValue { $0.webhookResult = .answered(["found": .bool(true), "status": "正在办理"]) }
        // Prompts take 1 s here: welcome 0-1, emergency-notice 1-2, choose-language from 2.
        // Language 1 during its prompt, then 3 in the main menu, then the ticket number.
        call.press("1", after: 2.5)
        call.press("3", after: 4)
        call.press("2026001#", after: 6)
        call.hangUp(after: 60)
        let outcome = try await run(try sample("12345"), call, variables: ["ticket-api": "http://core"])
        XCTAssertEqual(outcome, .hungUp)   // after-ticket: no key twice → goodbye
        XCTAssertEqual(Array(call.nodes.prefix(6)), ["start", "open", "language", "mandarin", "check-repeat", "main"])
        XCTAssertTrue(call.nodes.contains("ticket-progress"), "\(call.nodes)")
        XCTAssertTrue(call.nodes.contains("after-ticket"), "\(call.nodes)")
        XCTAssertEqual(Array(call.inputs.prefix(3)), ["1:match", "3:match", "2026001:match"])
        let hook = try XCTUnwrap(call.state.withLockedValue { $0.webhooks.first })
        XCTAssertEqual(hook.url, "http://core/tickets/2026001")
        XCTAssertEqual(hook.method, .get)
        XCTAssertEqual(hook.parameters, ["caller": "13800138000", "language": "zh-CN"])
        XCTAssertEqual(call.state.withLockedValue { $0.said }, ["正在办理"])
        XCTAssertEqual(call.state.withLockedValue { $0.answered }, 1)
        XCTAssertTrue(call.prompts.starts(with: ["welcome", "emergency-notice", "choose-language"]), "\(call.prompts)")
    }

    func testWebhookFailureGoesToItsFallbackNode() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.webhookResult = .failed(reason: "timeout") }
        call.press("1", after: 2.5)
        call.press("3", after: 4)
        call.press("123456#", after: 6)
        call.hangUp(after: 60)
        _ = try await run(try sample("12345"), call)
        XCTAssertTrue(call.nodes.contains("ticket-unavailable"), "\(call.nodes)")
        XCTAssertTrue(call.prompts.contains("ticket-unavailable"))
        XCTAssertEqual(call.state.withLockedValue { $0.said }, [])
    }

    func testEnglishCallerHearsEnglishPromptsAndReachesTheQueue() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.queueOutcome = .connected }
        call.press("2", after: 2.5)
        call.press("0", after: 4)
        let outcome = try await run(try sample("12345"), call)
        XCTAssertEqual(outcome, .connected)
        XCTAssertTrue(call.nodes.contains("english"))
        XCTAssertEqual(call.nodes.last, "agent")
        let languages = call.state.withLockedValue { $0.played.suffix(2).map(\.language) }
        XCTAssertEqual(languages, ["en-US", "en-US"])
        let queued = try XCTUnwrap(call.state.withLockedValue { $0.queued.first })
        XCTAssertEqual(queued.queue, "general")
        XCTAssertEqual(queued.context["ivr.path"], "start>open>language>english>check-repeat>main>agent")
        XCTAssertTrue(call.hungUp)
    }

    func testAfterHoursOffersTheRobotWhichFallsBackToAMessage() async throws {
        let call = FakeCall(start: at("2026-11-23 23:30"))
        call.state.withLockedValue { $0.message = RecordedMessage(path: "/m.wav", duration: .seconds(8)) }
        call.press("1", after: 3.5)
        let outcome = try await run(try sample("12345"), call)
        XCTAssertEqual(outcome, .hungUp)
        XCTAssertEqual(call.nodes, ["start", "after-hours", "after-hours-robot", "leave-message"])
        let robotEntry = call.state.withLockedValue { $0.events.last { $0.type == CallEventType.ivrNode }?.data["reason"] }
        XCTAssertEqual(robotEntry, .string("robot-unavailable"))
        XCTAssertEqual(call.prompts.suffix(2), ["leave-message", "message-saved"])
    }

    func testHolidayCallersHearTheHolidayNotice() async throws {
        let call = FakeCall(start: at("2026-10-01 10:00"))   // National Day
        call.hangUp(after: 25)
        _ = try await run(try sample("12345"), call)
        XCTAssertEqual(Array(call.nodes.prefix(3)), ["start", "open", "holiday-notice"])
    }

    func testRepeatCallerGetsTheShortPath() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.queueOutcome = .connected }
        call.press("1", after: 2.5)
        call.press("0", after: 4)
        let outcome = try await run(try sample("12345"), call, variables: ["repeat.day": "2", "repeat.week": "5"])
        XCTAssertEqual(outcome, .connected)
        XCTAssertEqual(call.nodes, ["start", "open", "language", "mandarin", "check-repeat", "repeat-caller", "agent"])
    }

    func testElderlyListCallerGetsSlowPromptsAndPriority() async throws {
        let call = FakeCall(caller: "02512345678", start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.queueOutcome = .connected }
        _ = try await run(try sample("12345"), call)
        XCTAssertEqual(call.nodes, ["start", "elderly-service"])
        let last = try XCTUnwrap(call.state.withLockedValue { $0.played.last })
        XCTAssertEqual(last.prompt, "elderly-intro")
        XCTAssertEqual(last.voice, "elderly")
        XCTAssertEqual(call.state.withLockedValue { $0.queued.first?.priority }, 9)
    }

    func testSilentCallerIsToldGoodbyeAfterThreeMenus() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        let outcome = try await run(try sample("12345"), call)
        XCTAssertEqual(outcome, .hungUp)
        XCTAssertEqual(call.nodes.suffix(2), ["main", "goodbye"])
        XCTAssertEqual(call.inputs.suffix(3), [":no-input", ":no-input", ":no-input"])
        XCTAssertEqual(call.prompts.filter { $0 == "no-input" }.count, 3)
        XCTAssertEqual(call.prompts.last, "goodbye")
        XCTAssertTrue(call.hungUp)
    }

    func testInvalidKeyPlaysInvalidAndRetries() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.queueOutcome = .connected }
        call.press("1", after: 2.5)
        call.press("7", after: 4)
        call.press("0", after: 6.5)
        _ = try await run(try sample("12345"), call)
        XCTAssertEqual(Array(call.inputs.prefix(3)), ["1:match", "7:invalid", "0:match"])
        XCTAssertTrue(call.prompts.contains("invalid"))
        XCTAssertEqual(call.nodes.last, "agent")
    }

    // MARK: Limits and bad callers

    func testCallerPressingKeysForTenMinutesHitsTheStepLimit() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: main
            limits: { steps: 40, duration: 900 }
            nodes:
              main:
                - menu:
                    prompt: main-menu
                    options: { "*": main }
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.press(String(repeating: "*", count: 1200), after: 0.2, every: 0.5)   // ten minutes of keys
        let outcome = try await run(plan, call)
        XCTAssertEqual(outcome, .limitReached("steps"))
        XCTAssertEqual(call.prompts.last, "goodbye")
        XCTAssertTrue(call.hungUp)
        XCTAssertEqual(call.inputs.count, 40)
        let last = call.state.withLockedValue { $0.events.last { $0.type == CallEventType.ivrNode }?.data["reason"] }
        XCTAssertEqual(last, .string("limit-steps"))
    }

    func testDurationLimit() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: main
            limits: { steps: 100000, duration: 60 }
            nodes:
              main:
                - menu:
                    prompt: main-menu
                    options: { "*": main }
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.press(String(repeating: "*", count: 600), after: 0.2, every: 1)
        let outcome = try await run(plan, call)
        XCTAssertEqual(outcome, .limitReached("duration"))
        XCTAssertGreaterThanOrEqual(call.now.timeIntervalSince(at("2026-11-23 10:00")), 60)
        XCTAssertLessThan(call.now.timeIntervalSince(at("2026-11-23 10:00")), 66)
    }

    func testTimeInQueuesDoesNotCountTowardsTheDurationLimit() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: q
            limits: { steps: 1000, duration: 60 }
            nodes:
              q:
                - enqueue: { queue: general, next: busy }
              busy:
                - menu: { prompt: all-busy, timeout: 5, attempts: 1, options: { "2": q }, on-failure: bye }
              bye:
                - hangup
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.press(String(repeating: "2", count: 20), after: 0.1, every: 0.01)   // each queue wait is 30 s
        let outcome = try await run(plan, call)
        XCTAssertEqual(outcome, .hungUp)
        XCTAssertEqual(call.state.withLockedValue { $0.queued.count }, 21)
        XCTAssertGreaterThan(call.now.timeIntervalSince(at("2026-11-23 10:00")), 600)
    }

    func testQueueOverflowGoesToItsNodeOrToNextWhenThePlanLacksIt() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: q
            nodes:
              q:
                - enqueue: { queue: general, next: busy }
              busy:
                - hangup
              robot:
                - hangup
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.queueOutcome = .overflow(node: "robot") }
        let outcome = try await run(plan, call)
        XCTAssertEqual(outcome, .hungUp)
        XCTAssertEqual(call.nodes, ["q", "robot"])
        let reason = call.state.withLockedValue { $0.events.last { $0.type == CallEventType.ivrNode }?.data["reason"] }
        XCTAssertEqual(reason, .string("queue-overflow"))

        let other = FakeCall(start: at("2026-11-23 10:00"))
        other.state.withLockedValue { $0.queueOutcome = .overflow(node: "policy-robot") }
        let otherOutcome = try await run(plan, other)
        XCTAssertEqual(otherOutcome, .hungUp)
        XCTAssertEqual(other.nodes, ["q", "busy"])
    }

    func testQueueCallbackEndsTheCall() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: q
            nodes:
              q:
                - enqueue: { queue: general, next: busy }
              busy:
                - play: all-busy
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.queueOutcome = .callback }
        let outcome = try await run(plan, call)
        XCTAssertEqual(outcome, .hungUp)
        XCTAssertEqual(call.nodes, ["q"])
        XCTAssertTrue(call.hungUp)
        XCTAssertEqual(call.state.withLockedValue { $0.played.count }, 0)
    }

    func testCallerHangingUpEndsTheRun() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.hangUp(after: 3)
        let outcome = try await run(try sample("12345"), call)
        XCTAssertEqual(outcome, .callEnded(.callerHangup))
        XCTAssertFalse(call.hungUp, "we must not hang up on a caller who already left")
    }

    // MARK: Verbs

    func testGatherTerminatorMinDigitsPatternAndAttempts() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: ask
            nodes:
              ask:
                - gather:
                    prompt: enter-ticket
                    invalid: invalid
                    variable: id
                    min-digits: 3
                    max-digits: 5
                    pattern: "9[0-9]*"
                    attempts: 3
                    next: done
                    on-failure: failed
              done:
                - hangup
              failed:
                - hangup
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.press("12#", after: 0.5)          // too short
        call.press("123#", after: 5)           // fails the pattern
        call.press("9876543", after: 10)       // max-digits ends it: 98765, the rest stays queued
        let outcome = try await run(plan, call)
        XCTAssertEqual(outcome, .hungUp)
        XCTAssertEqual(call.inputs, ["12:invalid", "123:invalid", "98765:match"])
        XCTAssertEqual(call.nodes, ["ask", "done"])
        XCTAssertEqual(call.prompts.filter { $0 == "invalid" }.count, 2)
    }

    func testGatherInterDigitTimeoutEndsInput() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: ask
            nodes:
              ask:
                - gather: { prompt: enter-ticket, variable: id, inter-digit-timeout: 2, terminator: "" }
                - set: { got: "${id}" }
                - when:
                    - if: { vars: { got: "42" } }
                      goto: ok
                    - otherwise: bad
              ok:
                - hangup
              bad:
                - hangup
            """)
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.press("42", after: 0.5, every: 1)
        call.press("7", after: 8)   // after the inter-digit timeout: not part of the input
        _ = try await run(plan, call)
        XCTAssertEqual(call.nodes, ["ask", "ok"])
    }

    func testWebhookAnswerCanPickTheNextNodeButNotAnUnknownOne() async throws {
        let yaml = """
            language: zh-CN
            languages: [zh-CN]
            start: ask
            nodes:
              ask:
                - webhook: { url: "http://x/${caller}", method: POST, parameters: { n: "${called}" }, as: crm, on-failure: fallback }
                - goto: default
              default:
                - hangup
              vip:
                - say: "hello ${crm.name}"
                - hangup
              fallback:
                - hangup
            """
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.webhookResult = .answered(["next": "vip", "name": "Li", "level": .int(3)]) }
        _ = try await run(try plan(yaml), call)
        XCTAssertEqual(call.nodes, ["ask", "vip"])
        XCTAssertEqual(call.state.withLockedValue { $0.said }, ["hello Li"])
        XCTAssertEqual(call.state.withLockedValue { $0.webhooks.first?.url }, "http://x/13800138000")
        XCTAssertEqual(call.state.withLockedValue { $0.webhooks.first?.parameters }, ["n": "12345"])

        let junk = FakeCall(start: at("2026-11-23 10:00"))
        junk.state.withLockedValue { $0.webhookResult = .answered(["next": "nowhere"]) }
        _ = try await run(try plan(yaml), junk)
        XCTAssertEqual(junk.nodes, ["ask", "fallback"])
    }

    func testDialFailureSetsStatusAndGoesToOnFailure() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: call
            nodes:
              call:
                - transfer: { to: "1${caller}", timeout: 20, on-failure: busy }
              busy:
                - when:
                    - if: { vars: { dial.status: "== busy" } }
                      goto: end
                - hangup
              end:
                - hangup
            """)
        let call = FakeCall(caller: "10", start: at("2026-11-23 10:00"))
        call.state.withLockedValue { $0.dialOutcome = .failed(status: "busy") }
        _ = try await run(plan, call)
        XCTAssertEqual(call.nodes, ["call", "busy", "end"])
        XCTAssertEqual(call.state.withLockedValue { $0.dialled }, [DialRequest(target: "110", trunk: nil, mode: .bridge, timeout: .seconds(20))])
    }

    func testAnswerIsImplicitAndHangupBeforeAnswerDoesNotAnswer() async throws {
        let blocked = try plan("""
            language: zh-CN
            languages: [zh-CN]
            start: screen
            lists: { blocked: { numbers: ["13800138000"] } }
            nodes:
              screen:
                - when:
                    - if: { caller-in: blocked }
                      goto: refuse
                - play: welcome
                - hangup
              refuse:
                - hangup
            """)
        let refused = FakeCall(start: at("2026-11-23 10:00"))
        _ = try await run(blocked, refused)
        XCTAssertEqual(refused.state.withLockedValue { $0.answered }, 0)
        XCTAssertTrue(refused.hungUp)
        let other = FakeCall(caller: "139", start: at("2026-11-23 10:00"))
        _ = try await run(blocked, other)
        XCTAssertEqual(other.state.withLockedValue { $0.answered }, 1)
        XCTAssertEqual(other.prompts, ["welcome"])
    }

    func testCalendarConditionsUseTheDialplanTimeZone() async throws {
        let plan = try plan("""
            language: zh-CN
            languages: [zh-CN]
            timezone: Asia/Shanghai
            start: route
            nodes:
              route:
                - when:
                    - if: { day: makeup-workday }
                      goto: makeup
                    - if: { weekday: [sat, sun] }
                      goto: weekend
                    - if: { time: "22:00-06:00" }
                      goto: night
                    - otherwise: day
              makeup: [hangup]
              weekend: [hangup]
              night: [hangup]
              day: [hangup]
            """)
        for (time, node) in [("2026-02-14 10:00", "makeup"), ("2026-11-22 10:00", "weekend"), ("2026-11-23 05:59", "night"),
                             ("2026-11-23 06:00", "day"), ("2026-11-23 22:00", "night")] {
            let call = FakeCall(start: at(time))
            _ = try await run(plan, call)
            XCTAssertEqual(call.nodes, ["route", node], time)
        }
    }

    func testNodeEventsCarryVersionReasonAndOrigin() async throws {
        let call = FakeCall(start: at("2026-11-23 10:00"))
        call.hangUp(after: 1)
        _ = try await run(try sample("12345"), call)
        let first = try XCTUnwrap(call.state.withLockedValue { $0.events.first })
        XCTAssertEqual(first.type, "hotline.ivr.node")
        XCTAssertEqual(first.data["dialplan"], "12345")
        XCTAssertEqual(first.data["version"], .int(7))
        XCTAssertEqual(first.data["reason"], "start")
        XCTAssertEqual(first.data["from"], .null)
    }
}
