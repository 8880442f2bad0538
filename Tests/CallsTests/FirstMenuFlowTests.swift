import Calls
import HotlineCore
import NIOConcurrencyHelpers
import XCTest

/// A scripted caller: each `collectDigit` pops the next planned answer; prompts are logged.
final class FakeCall: CallControl, @unchecked Sendable {
    let id = CallIdentifier(rawValue: "test")
    let callerNumber = "13800000000"
    let calledNumber = "12345"
    let language = "zh-CN"
    private struct State {
        var plan: [Character?]
        var typeAhead: [Character] = []
        var played: [String] = []
        var hungUp: HangupCause?
        var timeouts: [Duration] = []
    }
    private let state: NIOLockedValueBox<State>

    /// `plan`: what each menu wait returns (a key or a timeout). `typeAhead`: keys pressed
    /// during the first interruptible prompt.
    init(plan: [Character?], typeAhead: [Character] = []) {
        state = NIOLockedValueBox(State(plan: plan, typeAhead: typeAhead))
    }

    var played: [String] { state.withLockedValue { $0.played } }
    var hungUp: HangupCause? { state.withLockedValue { $0.hungUp } }
    var timeouts: [Duration] { state.withLockedValue { $0.timeouts } }

    func play(_ prompts: [String], interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        try state.withLockedValue { s -> Result<PlaybackOutcome, CallEnded> in
            if let cause = s.hungUp { return .failure(CallEnded(cause: cause)) }
            s.played += prompts
            if interruptible, let key = s.typeAhead.first { return .success(.interrupted(by: key)) }
            return .success(.finished)
        }.get()
    }

    func collectDigit(timeout: Duration) async throws(CallEnded) -> Character? {
        try state.withLockedValue { s -> Result<Character?, CallEnded> in
            if let cause = s.hungUp { return .failure(CallEnded(cause: cause)) }
            s.timeouts.append(timeout)
            if !s.typeAhead.isEmpty { return .success(s.typeAhead.removeFirst()) }
            guard !s.plan.isEmpty else { return .failure(CallEnded(cause: .callerHangup)) }  // caller gives up
            return .success(s.plan.removeFirst())
        }.get()
    }

    func hangup(cause: HangupCause) async {
        state.withLockedValue { $0.hungUp = cause }
    }
}

final class FirstMenuFlowTests: XCTestCase {
    func testThreeTimeoutsEndWithGoodbyeAndHangup() async throws {
        let call = FakeCall(plan: [nil, nil, nil])
        try await FirstMenuFlow(menuTimeout: .seconds(5), maxTimeouts: 3).run(call)
        XCTAssertEqual(call.played, ["welcome", "main-menu", "no-input", "main-menu", "no-input", "main-menu", "goodbye"])
        XCTAssertEqual(call.hungUp, .normalClearing)
        XCTAssertEqual(call.timeouts, [.seconds(5), .seconds(5), .seconds(5)])
    }

    func testKeysOneToFourPlayTheirPromptThenTheMenu() async {
        let call = FakeCall(plan: ["1", "2", "3", "4"])
        do {
            try await FirstMenuFlow().run(call)
            XCTFail("the flow should end only when the caller hangs up")
        } catch {
            XCTAssertEqual(error.cause, .callerHangup)
        }
        XCTAssertEqual(call.played, [
            "welcome", "main-menu", "option-1", "main-menu", "option-2", "main-menu",
            "option-3", "main-menu", "option-4", "main-menu",
        ])
        XCTAssertNil(call.hungUp)
    }

    func testZeroTransfersPoundRepeatsOtherKeysAreInvalid() async {
        let call = FakeCall(plan: ["0", "#", "9", "*"])
        _ = try? await FirstMenuFlow().run(call)
        XCTAssertEqual(call.played, [
            "welcome", "main-menu", "transferring", "main-menu", "main-menu",
            "invalid", "main-menu", "invalid", "main-menu",
        ])
    }

    func testAKeyResetsTheTimeoutCount() async throws {
        let call = FakeCall(plan: [nil, nil, "#", nil, nil, nil])
        try await FirstMenuFlow(maxTimeouts: 3).run(call)
        XCTAssertEqual(call.played.filter { $0 == "no-input" }.count, 4)
        XCTAssertEqual(call.played.last, "goodbye")
        XCTAssertEqual(call.hungUp, .normalClearing)
    }

    func testTypeAheadDuringWelcomeSelectsTheOption() async {
        let call = FakeCall(plan: [], typeAhead: ["2"])
        _ = try? await FirstMenuFlow().run(call)
        XCTAssertEqual(Array(call.played.prefix(3)), ["welcome", "main-menu", "option-2"])
    }
}
