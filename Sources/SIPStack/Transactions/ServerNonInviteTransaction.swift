/// The non-INVITE server transaction of RFC 3261 §17.2.2.
///
/// ```
///                 (created on request; passed to the TU by the owner)
///                              |
///                              v
///   retransmission: absorb   Trying
///                   1xx from TU |  \ 2xx-6xx from TU
///                   send        v   \ send
///   retransmission:         Proceeding --+
///   resend last 1xx   1xx: send | 2xx-6xx from TU: send
///                               v
///   retransmission:         Completed   (Timer J = 64*T1 unreliable,
///   resend final                |        0 = immediate on reliable)
///                               v Timer J
///                           Terminated
/// ```
///
/// See ``ServerInviteTransaction`` for the conventions on actions and
/// robustness: network-caused and timer inputs never assert, TU responses that
/// come too late are discarded, only a final response with a non-final status
/// code asserts (debug only).
public struct ServerNonInviteTransaction<Response: Sendable>: Sendable {
    /// What the owner must do, in order.
    public enum Action: Sendable {
        /// Hand the response to the transport layer.
        case send(Response)
        /// Schedule `timer`; on expiry call `timerFired(timer)`.
        case startTimer(TransactionTimer, after: Duration)
        /// Cancel a previously started timer (no-op if it already fired).
        case cancelTimer(TransactionTimer)
        /// Report a transport failure to the TU (§17.2.4).
        case transportError
        /// The transaction is over: remove it from the transaction table.
        case terminated(TransactionTerminationReason)
    }

    /// Observable state, for logging, metrics and tests.
    public enum Phase: Sendable, Hashable {
        case trying
        case proceeding
        case completed
        case terminated
    }

    private enum State: Sendable {
        case trying
        case proceeding(lastProvisional: Response)
        case completed(finalResponse: Response)
        case terminated
    }

    public let transport: TransportKind
    public let timers: TransactionTimers
    private var state: State

    /// Creates the transaction in the Trying state for a newly received
    /// non-INVITE request (the owner passes the request to the TU).
    public init(transport: TransportKind, timers: TransactionTimers = TransactionTimers()) {
        self.transport = transport
        self.timers = timers
        self.state = .trying
    }

    public var phase: Phase {
        switch self.state {
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

    /// Whether a final response from the TU would still be sent.
    public var canSendFinalResponse: Bool {
        switch self.state {
        case .trying, .proceeding: return true
        case .completed, .terminated: return false
        }
    }

    // MARK: - Inputs from the TU

    /// The TU passes a provisional (1xx) response: sent in Trying and
    /// Proceeding (moving to Proceeding), discarded afterwards.
    public mutating func sendProvisional(_ response: Response) -> [Action] {
        switch self.state {
        case .trying, .proceeding:
            self.state = .proceeding(lastProvisional: response)
            return [.send(response)]
        case .completed, .terminated:
            return []
        }
    }

    /// The TU passes a final (2xx-6xx) response: sent in Trying and Proceeding,
    /// moving to Completed with Timer J (64*T1) on unreliable transports or
    /// terminating at once on reliable ones (Timer J = 0). Discarded in
    /// Completed ("any other final responses ... MUST be discarded") and
    /// Terminated.
    public mutating func sendFinal(_ response: Response, statusCode: Int) -> [Action] {
        guard TransactionStatusClass.isFinal(statusCode) else {
            assertionFailure("sendFinal called with non-final status code \(statusCode)")
            return []
        }
        switch self.state {
        case .trying, .proceeding:
            switch self.transport {
            case .unreliable:
                self.state = .completed(finalResponse: response)
                return [.send(response), .startTimer(.J, after: self.timers.transactionTimeout)]
            case .reliable:
                self.state = .terminated
                return [.send(response), .terminated(.normal)]
            }
        case .completed, .terminated:
            return []
        }
    }

    // MARK: - Inputs from the network

    /// A retransmission of the request arrived.
    ///
    /// * Trying: absorbed (no response to repeat yet).
    /// * Proceeding: resend the most recent provisional.
    /// * Completed: resend the final response.
    public mutating func receivedRequestRetransmission() -> [Action] {
        switch self.state {
        case .trying, .terminated:
            return []
        case .proceeding(let lastProvisional):
            return [.send(lastProvisional)]
        case .completed(let finalResponse):
            return [.send(finalResponse)]
        }
    }

    /// The transport failed to deliver a response (§17.2.4): inform the TU and
    /// terminate.
    public mutating func transportError() -> [Action] {
        switch self.state {
        case .trying, .proceeding:
            self.state = .terminated
            return [.transportError, .terminated(.transportError)]
        case .completed:
            // Only reachable on unreliable transports (reliable ones terminate
            // on the final response), so Timer J is running.
            self.state = .terminated
            return [.cancelTimer(.J), .transportError, .terminated(.transportError)]
        case .terminated:
            return []
        }
    }

    // MARK: - Timers

    /// A timer fired. Timers that are not running in the current state (e.g.
    /// they raced their cancellation) are ignored.
    public mutating func timerFired(_ timer: TransactionTimer) -> [Action] {
        switch (timer, self.state) {
        case (.J, .completed):
            self.state = .terminated
            return [.terminated(.normal)]
        default:
            return []
        }
    }
}

extension ServerNonInviteTransaction.Action: Equatable where Response: Equatable {}
