/// The INVITE client transaction of RFC 3261 §17.1.1, as corrected by
/// RFC 6026 (Accepted state, Timer M).
///
/// ```
///                    start(): send, Timer A (unreliable), Timer B
///                              |
///                              v
///   Timer A: resend,        Calling -----------------+ Timer B: timeout
///   A = 2A              1xx |    \                   | transport error
///                   to TU   v     \ 2xx: to TU       | -> Terminated
///   1xx: to TU          Proceeding --+---------> Accepted   (Timer M = 64*T1)
///                           |    3xx-6xx:              | 2xx: to TU (every one:
///                           |    ACK, to TU            |  retransmissions, forks)
///                           v                          |
///   3xx-6xx: ACK again   Completed  (Timer D >= 32 s   | Timer M
///                           |        unreliable, 0 =   |
///                           |        immediate reliable)
///                           v Timer D / transport error|
///                       Terminated <-------------------+
/// ```
///
/// The ACK for a non-2xx final response is part of this transaction
/// (§17.1.1.3). The machine does not know the message model, so the owner
/// supplies a closure building it from the response it is currently handling;
/// the closure is called once, for the first non-2xx final response, and the
/// ACK is kept so that every retransmission of that response is answered with
/// the identical ACK (`.sendACK(ack)`). The ACK for a 2xx is *not* part of the
/// transaction: the TU/dialog core sends it (§13.2.2.4).
///
/// In Proceeding no timer runs (RFC 3261: Timer B only covers Calling). The TU
/// bounds the wait (ring timeout + CANCEL) and, if even the CANCEL gets no
/// final response for the INVITE within 64*T1 (§9.1), calls ``abandon()``.
///
/// Network-caused inputs (`receivedResponse`, `transportError`) and timer
/// callbacks never assert; only calling `start()` twice asserts (debug only).
public struct ClientInviteTransaction<Request: Sendable, ACK: Sendable>: Sendable {
    /// What the owner must do, in order.
    public enum Action: Sendable {
        /// Hand the INVITE to the transport layer (initial send or retransmission).
        case send(Request)
        /// Hand the ACK for a non-2xx final response to the transport layer.
        case sendACK(ACK)
        /// Schedule `timer`; on expiry call `timerFired(timer)`.
        case startTimer(TransactionTimer, after: Duration)
        /// Cancel a previously started timer (no-op if it already fired).
        case cancelTimer(TransactionTimer)
        /// Pass the response that was just given to `receivedResponse` to the TU.
        case passResponseToTU
        /// Timer B fired: report the timeout to the TU (treated as a 408, §8.1.3.1).
        case timeout
        /// Report a transport failure to the TU (treated as a 503, §8.1.3.1).
        case transportError
        /// The transaction is over: remove it from the transaction table.
        case terminated(TransactionTerminationReason)
    }

    /// Observable state, for logging, metrics and tests.
    public enum Phase: Sendable, Hashable {
        /// Created, `start()` not yet called.
        case idle
        case calling
        case proceeding
        case completed
        case accepted
        case terminated
    }

    private enum State: Sendable {
        case idle
        /// `aInterval` is the interval Timer A is currently running with.
        case calling(aInterval: Duration)
        case proceeding
        case completed(ack: ACK)
        case accepted
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
        case .calling: return .calling
        case .proceeding: return .proceeding
        case .completed: return .completed
        case .accepted: return .accepted
        case .terminated: return .terminated
        }
    }

    public var isTerminated: Bool {
        if case .terminated = self.state { return true }
        return false
    }

    // MARK: - Inputs from the TU

    /// Sends the INVITE and starts Timer A (unreliable only, T1) and Timer B
    /// (64*T1). Must be called exactly once.
    public mutating func start() -> [Action] {
        guard case .idle = self.state else {
            assertionFailure("ClientInviteTransaction.start() called twice")
            return []
        }
        var actions: [Action] = [.send(self.request)]
        if self.transport == .unreliable {
            actions.append(.startTimer(.A, after: self.timers.t1))
        }
        actions.append(.startTimer(.B, after: self.timers.transactionTimeout))
        self.state = .calling(aInterval: self.timers.t1)
        return actions
    }

    /// The TU gives up on the transaction (e.g. §9.1: no final response within
    /// 64*T1 after its CANCEL). Cancels whatever timer runs and terminates
    /// with `.abandonedByTU`. No-op once terminated or before `start()`.
    public mutating func abandon() -> [Action] {
        var actions: [Action]
        switch self.state {
        case .idle, .terminated:
            return []
        case .calling:
            actions = self.cancelCallingTimers()
        case .proceeding:
            actions = []
        case .completed:
            actions = self.transport == .unreliable ? [.cancelTimer(.D)] : []
        case .accepted:
            actions = [.cancelTimer(.M)]
        }
        actions.append(.terminated(.abandonedByTU))
        self.state = .terminated
        return actions
    }

    // MARK: - Inputs from the network

    /// A response matching this transaction arrived.
    ///
    /// * 1xx in Calling: stop retransmitting (cancel A and B), to the TU,
    ///   Proceeding. 1xx in Proceeding: to the TU.
    /// * 2xx in Calling/Proceeding: to the TU, Accepted with Timer M (64*T1).
    ///   2xx in Accepted: to the TU (retransmissions and forked 2xx alike).
    /// * 3xx-6xx in Calling/Proceeding: ACK (built by `makeACK`), to the TU,
    ///   Completed with Timer D on unreliable transports, or Terminated at once
    ///   on reliable ones. 3xx-6xx in Completed: the same ACK again, not
    ///   passed to the TU.
    /// * Anything else: ignored.
    ///
    /// - Parameter makeACK: builds the ACK for the response being handled
    ///   (§17.1.1.3). Called at most once per transaction, synchronously.
    public mutating func receivedResponse(statusCode: Int, makeACK: () -> ACK) -> [Action] {
        switch self.state {
        case .calling, .proceeding:
            let inCalling: Bool
            if case .calling = self.state { inCalling = true } else { inCalling = false }
            var actions: [Action] = inCalling ? self.cancelCallingTimers() : []

            if TransactionStatusClass.isProvisional(statusCode) {
                actions.append(.passResponseToTU)
                self.state = .proceeding
                return actions
            }
            if TransactionStatusClass.isSuccess(statusCode) {
                actions.append(.passResponseToTU)
                actions.append(.startTimer(.M, after: self.timers.transactionTimeout))
                self.state = .accepted
                return actions
            }
            if TransactionStatusClass.isFailure(statusCode) {
                let ack = makeACK()
                actions.append(.sendACK(ack))
                actions.append(.passResponseToTU)
                switch self.transport {
                case .unreliable:
                    actions.append(.startTimer(.D, after: self.timers.timerDUnreliable))
                    self.state = .completed(ack: ack)
                case .reliable:
                    actions.append(.terminated(.normal))
                    self.state = .terminated
                }
                return actions
            }
            // Invalid status code: ignore, keep the timers running.
            return []

        case .completed(let ack):
            if TransactionStatusClass.isFailure(statusCode) {
                return [.sendACK(ack)]
            }
            return []

        case .accepted:
            if TransactionStatusClass.isSuccess(statusCode) {
                return [.passResponseToTU]
            }
            return []

        case .idle, .terminated:
            return []
        }
    }

    /// The transport failed (§17.1.4).
    ///
    /// * Calling: inform the TU and terminate.
    /// * Completed: the ACK could not be sent; inform the TU and terminate
    ///   (RFC 6026 Figure 5).
    /// * Proceeding, Accepted: the transaction sends nothing in these states
    ///   (and on connection-oriented transports the UAS opens a new connection
    ///   for its responses, §18.2.2), so the error is ignored.
    public mutating func transportError() -> [Action] {
        switch self.state {
        case .calling:
            var actions = self.cancelCallingTimers()
            actions.append(contentsOf: [.transportError, .terminated(.transportError)])
            self.state = .terminated
            return actions
        case .completed:
            // Only reachable on unreliable transports, so Timer D is running.
            self.state = .terminated
            return [.cancelTimer(.D), .transportError, .terminated(.transportError)]
        case .idle, .proceeding, .accepted, .terminated:
            return []
        }
    }

    // MARK: - Timers

    /// A timer fired. Timers that are not running in the current state (e.g.
    /// they raced their cancellation) are ignored.
    public mutating func timerFired(_ timer: TransactionTimer) -> [Action] {
        switch (timer, self.state) {
        case (.A, .calling(let aInterval)):
            guard self.transport == .unreliable else { return [] }
            // Timer A doubles without a T2 cap (§17.1.1.2); Timer B bounds it.
            let next = aInterval * 2
            self.state = .calling(aInterval: next)
            return [.send(self.request), .startTimer(.A, after: next)]

        case (.B, .calling):
            var actions: [Action] = []
            if self.transport == .unreliable {
                actions.append(.cancelTimer(.A))
            }
            actions.append(contentsOf: [.timeout, .terminated(.timeout)])
            self.state = .terminated
            return actions

        case (.D, .completed):
            self.state = .terminated
            return [.terminated(.normal)]

        case (.M, .accepted):
            self.state = .terminated
            return [.terminated(.normal)]

        default:
            return []
        }
    }

    // MARK: - Helpers

    private func cancelCallingTimers() -> [Action] {
        self.transport == .unreliable
            ? [.cancelTimer(.A), .cancelTimer(.B)]
            : [.cancelTimer(.B)]
    }
}

extension ClientInviteTransaction.Action: Equatable where Request: Equatable, ACK: Equatable {}
