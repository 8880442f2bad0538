/// The non-INVITE client transaction of RFC 3261 §17.1.2 (used for the BYE,
/// OPTIONS, ... requests we send).
///
/// ```
///                      start(): send, Timer E (unreliable), Timer F
///                              |
///                              v
///   Timer E: resend,        Trying ------------+ Timer F: timeout
///   E = min(2E, T2)   1xx: to TU |  \ 2xx-6xx   | transport error
///                              v   \ to TU     | -> Terminated
///   Timer E: resend,      Proceeding --+       |
///   E = T2            1xx: to TU | 2xx-6xx to TU
///                              v
///   response: absorb       Completed   (Timer K = T4 unreliable,
///                              |        0 = immediate on reliable)
///                              v Timer K
///                          Terminated
/// ```
///
/// The request itself is stored in the machine so that `.send(request)` carries
/// it; the owner does not need to keep it for retransmissions.
///
/// Network-caused inputs (`receivedResponse`, `transportError`) and timer
/// callbacks never assert; responses that make no sense in the current state
/// (including ones before `start()`) are ignored. Only calling `start()` twice
/// asserts (debug only).
public struct ClientNonInviteTransaction<Request: Sendable>: Sendable {
    /// What the owner must do, in order.
    public enum Action: Sendable {
        /// Hand the request to the transport layer (initial send or retransmission).
        case send(Request)
        /// Schedule `timer`; on expiry call `timerFired(timer)`.
        case startTimer(TransactionTimer, after: Duration)
        /// Cancel a previously started timer (no-op if it already fired).
        case cancelTimer(TransactionTimer)
        /// Pass the response that was just given to `receivedResponse` to the TU.
        case passResponseToTU
        /// Timer F fired: report the timeout to the TU (which treats it as a
        /// 408 Request Timeout, §8.1.3.1).
        case timeout
        /// Report a transport failure to the TU (which treats it as a 503, §8.1.3.1).
        case transportError
        /// The transaction is over: remove it from the transaction table.
        case terminated(TransactionTerminationReason)
    }

    /// Observable state, for logging, metrics and tests.
    public enum Phase: Sendable, Hashable {
        /// Created, `start()` not yet called.
        case idle
        case trying
        case proceeding
        case completed
        case terminated
    }

    private enum State: Sendable {
        case idle
        /// `eInterval` is the interval Timer E is currently running with.
        case trying(eInterval: Duration)
        case proceeding
        case completed
        case terminated
    }

    public let request: Request
    public let transport: TransportKind
    public let timers: TransactionTimers
    private var state: State

    public init(request: Request, transport: TransportKind, timers: TransactionTimers = TransactionTimers()) {
        self.request = request
        self.transport = transport
        self.timers = timers
        self.state = .idle
    }

    public var phase: Phase {
        switch self.state {
        case .idle: return .idle
        case .trying: return .trying
        case .proceeding: return .proceeding
        case .completed: return .completed
        case .terminated: return .terminated
        }
    }

    public var isTerminated: Bool {
        if case .terminated = self.state { return true }
        return false
    }

    // MARK: - Inputs from the TU

    /// Sends the request and starts Timer E (unreliable only, T1) and Timer F
    /// (64*T1). Must be called exactly once.
    public mutating func start() -> [Action] {
        guard case .idle = self.state else {
            assertionFailure("ClientNonInviteTransaction.start() called twice")
            return []
        }
        var actions: [Action] = [.send(self.request)]
        if self.transport == .unreliable {
            actions.append(.startTimer(.E, after: self.timers.t1))
        }
        actions.append(.startTimer(.F, after: self.timers.transactionTimeout))
        self.state = .trying(eInterval: self.timers.t1)
        return actions
    }

    // MARK: - Inputs from the network

    /// A response matching this transaction arrived.
    ///
    /// * 1xx in Trying/Proceeding: to the TU; Trying moves to Proceeding.
    /// * 2xx-6xx in Trying/Proceeding: stop Timers E and F, to the TU, then
    ///   Completed with Timer K (T4) on unreliable transports or Terminated at
    ///   once on reliable ones.
    /// * Completed: retransmitted responses are absorbed.
    /// * Anything else (invalid codes, responses before `start()` or after
    ///   termination): ignored.
    public mutating func receivedResponse(statusCode: Int) -> [Action] {
        switch self.state {
        case .trying:
            if TransactionStatusClass.isProvisional(statusCode) {
                // Timer E keeps running with its current interval; the next
                // time it fires in Proceeding it is reset to T2.
                self.state = .proceeding
                return [.passResponseToTU]
            }
            if TransactionStatusClass.isFinal(statusCode) {
                return self.completeWithFinalResponse()
            }
            return []

        case .proceeding:
            if TransactionStatusClass.isProvisional(statusCode) {
                return [.passResponseToTU]
            }
            if TransactionStatusClass.isFinal(statusCode) {
                return self.completeWithFinalResponse()
            }
            return []

        case .idle, .completed, .terminated:
            return []
        }
    }

    /// The transport failed to deliver the request (§17.1.4): in Trying and
    /// Proceeding, inform the TU and terminate. Ignored otherwise.
    public mutating func transportError() -> [Action] {
        switch self.state {
        case .trying, .proceeding:
            var actions = self.cancelRetransmissionTimers()
            actions.append(contentsOf: [.transportError, .terminated(.transportError)])
            self.state = .terminated
            return actions
        case .idle, .completed, .terminated:
            return []
        }
    }

    // MARK: - Timers

    /// A timer fired. Timers that are not running in the current state (e.g.
    /// they raced their cancellation) are ignored.
    public mutating func timerFired(_ timer: TransactionTimer) -> [Action] {
        switch (timer, self.state) {
        case (.E, .trying(let eInterval)):
            guard self.transport == .unreliable else { return [] }
            let next = min(eInterval * 2, self.timers.t2)
            self.state = .trying(eInterval: next)
            return [.send(self.request), .startTimer(.E, after: next)]

        case (.E, .proceeding):
            guard self.transport == .unreliable else { return [] }
            return [.send(self.request), .startTimer(.E, after: self.timers.t2)]

        case (.F, .trying), (.F, .proceeding):
            var actions: [Action] = []
            if self.transport == .unreliable {
                actions.append(.cancelTimer(.E))
            }
            actions.append(contentsOf: [.timeout, .terminated(.timeout)])
            self.state = .terminated
            return actions

        case (.K, .completed):
            self.state = .terminated
            return [.terminated(.normal)]

        default:
            return []
        }
    }

    // MARK: - Helpers

    private func cancelRetransmissionTimers() -> [Action] {
        self.transport == .unreliable
            ? [.cancelTimer(.E), .cancelTimer(.F)]
            : [.cancelTimer(.F)]
    }

    private mutating func completeWithFinalResponse() -> [Action] {
        var actions = self.cancelRetransmissionTimers()
        actions.append(.passResponseToTU)
        switch self.transport {
        case .unreliable:
            actions.append(.startTimer(.K, after: self.timers.t4))
            self.state = .completed
        case .reliable:
            actions.append(.terminated(.normal))
            self.state = .terminated
        }
        return actions
    }
}

extension ClientNonInviteTransaction.Action: Equatable where Request: Equatable {}
