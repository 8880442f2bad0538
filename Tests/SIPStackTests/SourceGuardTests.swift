import XCTest
@testable import SIPStack

final class SourceGuardTests: XCTestCase {
    // MARK: - TokenBucket

    func testTokenBucketBurstThenRefill() {
        var bucket = TokenBucket(ratePerSecond: 2, burst: 3)
        XCTAssertTrue(bucket.isFull(now: 0))
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertFalse(bucket.take(now: 0))
        XCTAssertEqual(bucket.secondsUntilAvailable(now: 0), 1)
        XCTAssertFalse(bucket.take(now: 0.4))          // 0.8 tokens
        XCTAssertTrue(bucket.take(now: 0.6))           // 1.2 tokens
        XCTAssertFalse(bucket.take(now: 0.6))
        XCTAssertEqual(bucket.available(now: 100), 3)  // capped at burst
        XCTAssertTrue(bucket.isFull(now: 100))
    }

    func testTokenBucketIgnoresClockGoingBackwards() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 1)
        XCTAssertTrue(bucket.take(now: 10))
        XCTAssertFalse(bucket.take(now: 5))
        XCTAssertFalse(bucket.take(now: 10.5))
        XCTAssertTrue(bucket.take(now: 11))
    }

    func testTokenBucketSlowRateRetryAfter() {
        var bucket = TokenBucket(ratePerSecond: 0.1, burst: 1)
        XCTAssertTrue(bucket.take(now: 0))
        XCTAssertEqual(bucket.secondsUntilAvailable(now: 0), 10)
        XCTAssertEqual(bucket.secondsUntilAvailable(now: 9.5), 1)
        XCTAssertEqual(bucket.secondsUntilAvailable(now: 10), 0)
    }

    // MARK: - Rate limits

    func testInviteRateLimitIsPerSource() {
        var guardian = SourceGuard(policy: .init(invitesPerSecond: 1, inviteBurst: 2))
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .invite, now: 0), .allow)
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .invite, now: 0), .allow)
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .invite, now: 0), .rateLimited(retryAfter: 1))
        XCTAssertEqual(guardian.admit(source: "10.0.0.2", class: .invite, now: 0), .allow)
        // REGISTERs have their own bucket; other requests are never rate limited.
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .register, now: 0), .allow)
        for _ in 0..<100 {
            XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .other, now: 0), .allow)
        }
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .invite, now: 1), .allow)
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .invite, now: 1), .rateLimited(retryAfter: 1))
    }

    func testRegisterRateLimit() {
        var guardian = SourceGuard(policy: .init(registersPerSecond: 0.5, registerBurst: 1))
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .register, now: 0), .allow)
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .register, now: 0.5), .rateLimited(retryAfter: 2))
        XCTAssertEqual(guardian.admit(source: "10.0.0.1", class: .register, now: 2), .allow)
    }

    // MARK: - Authentication failures

    func testNthFailureBlocks() {
        var guardian = SourceGuard(policy: .init(maxAuthFailures: 10, failureWindow: 60, blockDuration: 600))
        for i in 0..<9 {
            XCTAssertFalse(guardian.recordAuthFailure(source: "203.0.113.9", now: Double(i)))
        }
        XCTAssertFalse(guardian.isBlocked(source: "203.0.113.9", now: 9))
        XCTAssertTrue(guardian.recordAuthFailure(source: "203.0.113.9", now: 9))
        XCTAssertTrue(guardian.isBlocked(source: "203.0.113.9", now: 9))
        // Further failures while blocked do not "newly" block.
        XCTAssertFalse(guardian.recordAuthFailure(source: "203.0.113.9", now: 10))
        for c: SourceGuard.RequestClass in [.invite, .register, .other] {
            XCTAssertEqual(guardian.admit(source: "203.0.113.9", class: c, now: 10), .blocked(until: 609))
        }
        XCTAssertEqual(guardian.admit(source: "203.0.113.10", class: .invite, now: 10), .allow)
    }

    func testFailuresOutsideTheWindowDoNotCount() {
        var guardian = SourceGuard(policy: .init(maxAuthFailures: 3, failureWindow: 60))
        XCTAssertFalse(guardian.recordAuthFailure(source: "a", now: 0))
        XCTAssertFalse(guardian.recordAuthFailure(source: "a", now: 30))
        XCTAssertFalse(guardian.recordAuthFailure(source: "a", now: 61))  // the failure at 0 has left
        XCTAssertTrue(guardian.recordAuthFailure(source: "a", now: 89))   // 30, 61, 89
    }

    func testBlockExpires() {
        var guardian = SourceGuard(policy: .init(maxAuthFailures: 2, blockDuration: 100))
        guardian.recordAuthFailure(source: "a", now: 0)
        XCTAssertTrue(guardian.recordAuthFailure(source: "a", now: 1))
        XCTAssertEqual(guardian.admit(source: "a", class: .register, now: 100.9), .blocked(until: 101))
        XCTAssertTrue(guardian.isBlocked(source: "a", now: 100.9))
        XCTAssertFalse(guardian.isBlocked(source: "a", now: 101))
        XCTAssertEqual(guardian.admit(source: "a", class: .register, now: 101), .allow)
        // The count starts afresh after a block.
        XCTAssertFalse(guardian.recordAuthFailure(source: "a", now: 102))
        XCTAssertTrue(guardian.recordAuthFailure(source: "a", now: 103))
    }

    func testAuthSuccessClearsFailures() {
        var guardian = SourceGuard(policy: .init(maxAuthFailures: 3))
        guardian.recordAuthFailure(source: "a", now: 0)
        guardian.recordAuthFailure(source: "a", now: 1)
        guardian.recordAuthSuccess(source: "a")
        XCTAssertFalse(guardian.recordAuthFailure(source: "a", now: 2))
        XCTAssertFalse(guardian.recordAuthFailure(source: "a", now: 3))
        XCTAssertTrue(guardian.recordAuthFailure(source: "a", now: 4))
        // Success does not lift an active block.
        guardian.recordAuthSuccess(source: "a")
        XCTAssertTrue(guardian.isBlocked(source: "a", now: 5))
    }

    func testBlockedSourcesAndUnblock() {
        var guardian = SourceGuard(policy: .init(maxAuthFailures: 1, blockDuration: 100))
        XCTAssertTrue(guardian.recordAuthFailure(source: "b", now: 10))
        XCTAssertTrue(guardian.recordAuthFailure(source: "a", now: 20))
        XCTAssertEqual(guardian.blockedSources(now: 30),
                       [.init(source: "b", until: 110), .init(source: "a", until: 120)])
        XCTAssertEqual(guardian.blockedSources(now: 115).map(\.source), ["a"])
        XCTAssertTrue(guardian.unblock(source: "a"))
        XCTAssertFalse(guardian.unblock(source: "a"))
        XCTAssertTrue(guardian.blockedSources(now: 30).map(\.source) == ["b"])
        XCTAssertEqual(guardian.admit(source: "a", class: .invite, now: 30), .allow)
    }

    func testExemptSourcesAreNeverLimitedNorBlocked() {
        var guardian = SourceGuard(policy: .init(invitesPerSecond: 1, inviteBurst: 1, maxAuthFailures: 1,
                                                 exemptSources: ["198.51.100.1"]))
        for _ in 0..<50 {
            XCTAssertEqual(guardian.admit(source: "198.51.100.1", class: .invite, now: 0), .allow)
            XCTAssertFalse(guardian.recordAuthFailure(source: "198.51.100.1", now: 0))
        }
        XCTAssertFalse(guardian.isBlocked(source: "198.51.100.1", now: 0))
        XCTAssertEqual(guardian.trackedCount, 0)
        // The policy can change at run time.
        guardian.policy.exemptSources = []
        XCTAssertEqual(guardian.admit(source: "198.51.100.1", class: .invite, now: 0), .allow)
        XCTAssertEqual(guardian.admit(source: "198.51.100.1", class: .invite, now: 0), .rateLimited(retryAfter: 1))
    }

    // MARK: - Memory bound

    func testPruningDropsIdleSourcesFirst() {
        var guardian = SourceGuard(policy: .init(invitesPerSecond: 1, inviteBurst: 5, maxAuthFailures: 100, maxTrackedSources: 10))
        // Source 0 keeps state (a failure); the others only sent one INVITE.
        guardian.recordAuthFailure(source: "s0", now: 0)
        for i in 1..<10 { _ = guardian.admit(source: "s\(i)", class: .invite, now: 0) }
        XCTAssertEqual(guardian.trackedCount, 10)
        // Ten seconds later every bucket is full again: those entries are idle.
        _ = guardian.admit(source: "new", class: .invite, now: 10)
        XCTAssertEqual(guardian.trackedCount, 2)
        XCTAssertFalse(guardian.recordAuthFailure(source: "s0", now: 11))
    }

    func testPruningEvictsOldestButKeepsBlocked() {
        var guardian = SourceGuard(policy: .init(maxAuthFailures: 2, maxTrackedSources: 10))
        // s0 is blocked; s1...s9 each have one failure (not idle), oldest first.
        guardian.recordAuthFailure(source: "s0", now: 0)
        XCTAssertTrue(guardian.recordAuthFailure(source: "s0", now: 0))
        for i in 1..<10 { guardian.recordAuthFailure(source: "s\(i)", now: Double(i)) }
        XCTAssertEqual(guardian.trackedCount, 10)
        guardian.recordAuthFailure(source: "s10", now: 20)
        // Pruned to 90% of the bound: the two least recently seen unblocked sources went.
        XCTAssertEqual(guardian.trackedCount, 9)
        XCTAssertTrue(guardian.isBlocked(source: "s0", now: 20))
        XCTAssertFalse(guardian.recordAuthFailure(source: "s1", now: 21), "s1 was forgotten, so this is its first failure")
        XCTAssertTrue(guardian.recordAuthFailure(source: "s9", now: 21))
    }

    func testTrackedSourcesStayBoundedUnderAFlood() {
        var guardian = SourceGuard(policy: .init(maxTrackedSources: 100))
        for i in 0..<10_000 {
            _ = guardian.admit(source: "10.\(i / 256).\(i % 256).1", class: .invite, now: Double(i) * 0.001)
            XCTAssertLessThanOrEqual(guardian.trackedCount, 100)
        }
    }

    // MARK: - AdmissionControl

    func testAdmissionConcurrentLimit() {
        var ac = AdmissionControl(policy: .init(maxConcurrentCalls: 2, maxCallsPerSecond: 100, retryAfter: 7))
        XCTAssertEqual(ac.admitCall(activeCalls: 0, now: 0), .admit)
        XCTAssertEqual(ac.admitCall(activeCalls: 1, now: 0), .admit)
        guard case .overloaded(let retryAfter, let reason) = ac.admitCall(activeCalls: 2, now: 0) else {
            return XCTFail("expected overload")
        }
        XCTAssertEqual(retryAfter, 7)
        XCTAssertTrue(reason.contains("concurrent"), reason)
        // When calls end, new ones are admitted again.
        XCTAssertEqual(ac.admitCall(activeCalls: 1, now: 1), .admit)
    }

    func testAdmissionCallRate() {
        var ac = AdmissionControl(policy: .init(maxConcurrentCalls: 1000, maxCallsPerSecond: 3, retryAfter: 5))
        for _ in 0..<3 { XCTAssertEqual(ac.admitCall(activeCalls: 0, now: 0), .admit) }
        guard case .overloaded(let retryAfter, let reason) = ac.admitCall(activeCalls: 0, now: 0.1) else {
            return XCTFail("expected overload")
        }
        XCTAssertEqual(retryAfter, 5)
        XCTAssertTrue(reason.contains("3/s"), reason)
        XCTAssertEqual(ac.admitCall(activeCalls: 0, now: 1), .admit)
        // A refusal for concurrency does not use up the rate.
        var ac2 = AdmissionControl(policy: .init(maxConcurrentCalls: 1, maxCallsPerSecond: 1))
        for _ in 0..<5 { XCTAssertNotEqual(ac2.admitCall(activeCalls: 1, now: 0), .admit) }
        XCTAssertEqual(ac2.admitCall(activeCalls: 0, now: 0), .admit)
    }
}
