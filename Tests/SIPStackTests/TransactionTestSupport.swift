// Test support for the transaction state machine tests: a virtual clock that
// executes the timer actions returned by the machines, and a deterministic RNG
// for the randomised robustness tests. No sockets, no real time.

import XCTest

#if canImport(SIPStack)
@testable import SIPStack
#else
@testable import SIPTransactions
#endif

/// The timer-related part of an action.
enum TransactionTestTimerOp: Equatable {
    case start(TransactionTimer, Duration)
    case cancel(TransactionTimer)
}

/// Lets the helpers below treat the four `Action` types uniformly.
protocol TransactionTestAction {
    var timerOp: TransactionTestTimerOp? { get }
    var isTerminatedAction: Bool { get }
}

extension ServerInviteTransaction.Action: TransactionTestAction {
    var timerOp: TransactionTestTimerOp? {
        switch self {
        case .startTimer(let t, let d): return .start(t, d)
        case .cancelTimer(let t): return .cancel(t)
        default: return nil
        }
    }
    var isTerminatedAction: Bool {
        if case .terminated = self { return true }
        return false
    }
}

extension ServerNonInviteTransaction.Action: TransactionTestAction {
    var timerOp: TransactionTestTimerOp? {
        switch self {
        case .startTimer(let t, let d): return .start(t, d)
        case .cancelTimer(let t): return .cancel(t)
        default: return nil
        }
    }
    var isTerminatedAction: Bool {
        if case .terminated = self { return true }
        return false
    }
}

extension ClientNonInviteTransaction.Action: TransactionTestAction {
    var timerOp: TransactionTestTimerOp? {
        switch self {
        case .startTimer(let t, let d): return .start(t, d)
        case .cancelTimer(let t): return .cancel(t)
        default: return nil
        }
    }
    var isTerminatedAction: Bool {
        if case .terminated = self { return true }
        return false
    }
}

extension ClientInviteTransaction.Action: TransactionTestAction {
    var timerOp: TransactionTestTimerOp? {
        switch self {
        case .startTimer(let t, let d): return .start(t, d)
        case .cancelTimer(let t): return .cancel(t)
        default: return nil
        }
    }
    var isTerminatedAction: Bool {
        if case .terminated = self { return true }
        return false
    }
}

/// A virtual clock and timer wheel standing in for the owner's scheduler.
///
/// It checks the owner-facing contract of the machines while executing their
/// actions: a timer is never started while it is already running, and
/// `.terminated` is the last action and leaves no timer running.
struct VirtualTimerWheel {
    private(set) var now: Duration = .zero
    private(set) var deadlines: [TransactionTimer: Duration] = [:]

    var running: Set<TransactionTimer> { Set(self.deadlines.keys) }

    mutating func apply<A: TransactionTestAction>(
        _ actions: [A],
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        for (index, action) in actions.enumerated() {
            switch action.timerOp {
            case .start(let timer, let delay):
                XCTAssertNil(self.deadlines[timer], "\(timer) started while running", file: file, line: line)
                XCTAssertGreaterThan(delay, .zero, "zero-length timers must be immediate transitions", file: file, line: line)
                self.deadlines[timer] = self.now + delay
            case .cancel(let timer):
                self.deadlines[timer] = nil
            case nil:
                break
            }
            if action.isTerminatedAction {
                XCTAssertEqual(index, actions.count - 1, ".terminated must be the last action", file: file, line: line)
                XCTAssertEqual(self.running, [], "timers left running after .terminated", file: file, line: line)
            }
        }
    }

    /// Removes the timer that is due first, advances the clock to its
    /// deadline and returns it (or `nil` if nothing is scheduled).
    mutating func popNext() -> TransactionTimer? {
        let order = TransactionTimer.allCases
        guard let (timer, deadline) = self.deadlines.min(by: { lhs, rhs in
            if lhs.value != rhs.value { return lhs.value < rhs.value }
            return order.firstIndex(of: lhs.key)! < order.firstIndex(of: rhs.key)!
        }) else {
            return nil
        }
        self.deadlines[timer] = nil
        self.now = deadline
        return timer
    }

    /// Advances the clock without firing anything (the caller guarantees no
    /// timer is due before `time`).
    mutating func advance(to time: Duration, file: StaticString = #filePath, line: UInt = #line) {
        if let earliest = self.deadlines.values.min() {
            XCTAssertLessThanOrEqual(time, earliest, "a timer would have fired first", file: file, line: line)
        }
        self.now = time
    }

    /// Models a timer firing (possibly stale, i.e. racing its cancellation):
    /// once fired it is no longer scheduled.
    mutating func markFired(_ timer: TransactionTimer) {
        self.deadlines[timer] = nil
    }
}

/// SplitMix64: small deterministic RNG for the randomised tests.
struct TransactionTestRNG: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func ms(_ value: Int64) -> Duration { .milliseconds(value) }
func sec(_ value: Int64) -> Duration { .seconds(value) }
