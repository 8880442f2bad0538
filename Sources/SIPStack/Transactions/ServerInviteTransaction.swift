/// The INVITE server transaction of RFC 3261 §17.2.1, as corrected by
/// RFC 6026 (Accepted state, Timer L).
///
/// ```
///            (created on INVITE; owner sends 100 Trying via sendProvisional)
///                              |
///                              v
///   1xx from TU  +-------> Proceeding --------+ 2xx from TU: send, Timer L
///   send, store  |         |    |             |
///                +---------+    | 3xx-6xx     v
///                               | from TU   Accepted -- ACK: pass to TU
///                               v           |  INVITE retransmission: absorb
///                       Completed           |  2xx from TU: send
///     INVITE: resend final  |  Timer G: resend final (unreliable)
///     ACK: -> Confirmed     |  Timer H: timeout, -> Terminated
///                           v               |
///                      Confirmed            | Timer L
///      ACK/INVITE: absorb   | Timer I       |
///                           v               v
///                         Terminated <------+
/// ```
///
/// The machine is a pure value: the owner calls one of the `mutating` input
/// functions and executes the returned actions in order (send, schedule,
/// cancel, report to the TU, drop the transaction). When the list contains
/// `.terminated`, it is the last action and every timer the machine started
/// has already been cancelled by preceding actions (or has just fired).
///
/// ### Robustness
/// Inputs caused by the network (`receivedRequestRetransmission`,
/// `receivedACK`, `transportError`) and timer callbacks (which may race with
/// cancellation) are accepted in every state and yield no actions when they
/// make no sense. Inputs from the TU that may legitimately race with the
/// network (a provisional or final response arriving after the transaction
/// already sent a final response or terminated, e.g. a 200 racing the 487 that
/// answered a CANCEL) are discarded as RFC 3261 §17.2.1 prescribes; check
/// ``canSendFinalResponse`` beforehand if you need to know. Only true TU
/// programming errors (a final response with a non-final status code) trip an
/// `assertionFailure` in debug builds; in release they are ignored too.
public struct ServerInviteTransaction<Response: Sendable>: Sendable {
    /// What the owner must do, in order.
    public enum Action: Sendable {
        /// Hand the response to the transport layer.
        case send(Response)
        /// Schedule `timer` to fire after the given delay; on expiry call
        /// `timerFired(timer)`.
        case startTimer(TransactionTimer, after: Duration)
        /// Cancel a previously started timer. Cancelling a timer that already
        /// fired must be a no-op for the owner.
        case cancelTimer(TransactionTimer)
        /// Accepted state: pass the ACK (for the 2xx) to the TU / dialog core.
        case passACKToTU
        /// Timer H fired: no ACK was received for the non-2xx final response.
        /// Report the transaction failure to the TU.
        case timeout
        /// Report a transport failure to the TU (§17.2.4).
        case transportError
        /// The transaction is over: remove it from the transaction table.
        case terminated(TransactionTerminationReason)
    }

    /// Observable state, for logging, metrics and tests.
    public enum Phase: Sendable, Hashable {
        case proceeding
        case completed
        case accepted
        case confirmed
        case terminated
    }

    private enum State: Sendable {
        /// `lastProvisional` is what INVITE retransmissions are answered with.
        case proceeding(lastProvisional: Response?)
        /// `gInterval` is the interval Timer G is currently running with.
        case completed(finalResponse: Response, gInterval: Duration)
        case accepted
        case confirmed
        case terminated
    }

    public let transport: TransportKind
    public let timers: TransactionTimers
    private var state: State

    /// Creates the transaction in the Proceeding state for a newly received
    /// INVITE.
    ///
    /// The machine does not send 100 Trying on its own: §17.2.1 requires a
    /// provisional within 200 ms unless the TU is known to respond sooner, so
    /// the owner calls ``sendProvisional(_:)`` with its 100 Trying right after
    /// creating the transaction (and passing the INVITE to the TU).
    public init(transport: TransportKind, timers: TransactionTimers = TransactionTimers()) {
        self.transport = transport
        self.timers = timers
        self.state = .proceeding(lastProvisional: nil)
    }

    public var phase: Phase {
        switch self.state {
        case .proceeding: return .proceeding
        case .completed: return .completed
        case .accepted: return .accepted
        case .confirmed: return .confirmed
        case .terminated: return .terminated
        }
    }

    public var isTerminated: Bool {
        if case .terminated = self.state { return true }
        return false
    }

    /// Whether the transaction still waits for its first final response from
    /// the TU (Proceeding). In Accepted, ``sendFinal(_:statusCode:)`` still
    /// sends 2xx responses (the TU's 2xx retransmissions).
    public var canSendFinalResponse: Bool {
        if case .proceeding = self.state { return true }
        return false
    }

    // MARK: - Inputs from the TU

    /// The TU passes a provisional (1xx) response.
    ///
    /// Sent and remembered in Proceeding; discarded in any later state (a
    /// provisional can race a final response or a transport failure).
    public mutating func sendProvisional(_ response: Response) -> [Action] {
        switch self.state {
        case .proceeding:
            self.state = .proceeding(lastProvisional: response)
            return [.send(response)]
        case .completed, .accepted, .confirmed, .terminated:
            return []
        }
    }

    /// The TU passes a final (2xx-6xx) response.
    ///
    /// * Proceeding + 2xx: send, move to Accepted, start Timer L (RFC 6026).
    /// * Proceeding + 3xx-6xx: send, move to Completed, start Timer G
    ///   (unreliable only) and Timer H.
    /// * Accepted + 2xx: send. This is how the TU (UAS core, §13.3.1.4)
    ///   retransmits its 2xx, and how further 2xx would be sent.
    /// * Anything else: discarded (§17.2.1: "any other final responses passed
    ///   by the TU ... MUST be discarded").
    public mutating func sendFinal(_ response: Response, statusCode: Int) -> [Action] {
        guard TransactionStatusClass.isFinal(statusCode) else {
            assertionFailure("sendFinal called with non-final status code \(statusCode)")
            return []
        }
        let isSuccess = TransactionStatusClass.isSuccess(statusCode)

        switch self.state {
        case .proceeding:
            if isSuccess {
                self.state = .accepted
                return [
                    .send(response),
                    .startTimer(.L, after: self.timers.transactionTimeout),
                ]
            }
            var actions: [Action] = [.send(response)]
            if self.transport == .unreliable {
                actions.append(.startTimer(.G, after: self.timers.t1))
            }
            actions.append(.startTimer(.H, after: self.timers.transactionTimeout))
            self.state = .completed(finalResponse: response, gInterval: self.timers.t1)
            return actions

        case .accepted:
            return isSuccess ? [.send(response)] : []

        case .completed, .confirmed, .terminated:
            return []
        }
    }

    // MARK: - Inputs from the network

    /// A retransmission of the INVITE that created this transaction arrived.
    ///
    /// * Proceeding: resend the most recent provisional (nothing if the TU has
    ///   not sent one yet).
    /// * Completed: resend the final response.
    /// * Accepted, Confirmed: absorbed (RFC 6026: never passed to the TU).
    public mutating func receivedRequestRetransmission() -> [Action] {
        switch self.state {
        case .proceeding(let lastProvisional):
            if let lastProvisional {
                return [.send(lastProvisional)]
            }
            return []
        case .completed(let finalResponse, _):
            return [.send(finalResponse)]
        case .accepted, .confirmed, .terminated:
            return []
        }
    }

    /// An ACK matching this transaction arrived.
    ///
    /// * Completed: stop retransmitting, move to Confirmed, start Timer I
    ///   (T4 on unreliable transports; on reliable ones Timer I is zero and
    ///   the transaction terminates immediately). Not passed to the TU.
    /// * Accepted: passed to the TU (RFC 6026).
    /// * Confirmed: absorbed (that is what Confirmed is for).
    /// * Proceeding: no final response was sent, so there is nothing to
    ///   acknowledge; ignored.
    public mutating func receivedACK() -> [Action] {
        switch self.state {
        case .completed:
            var actions: [Action] = []
            if self.transport == .unreliable {
                actions.append(.cancelTimer(.G))
            }
            actions.append(.cancelTimer(.H))
            switch self.transport {
            case .unreliable:
                actions.append(.startTimer(.I, after: self.timers.t4))
                self.state = .confirmed
            case .reliable:
                actions.append(.terminated(.normal))
                self.state = .terminated
            }
            return actions
        case .accepted:
            return [.passACKToTU]
        case .proceeding, .confirmed, .terminated:
            return []
        }
    }

    /// The transport failed to deliver a response (§17.2.4).
    ///
    /// * Proceeding, Completed: inform the TU and terminate.
    /// * Accepted: inform the TU but stay, so that INVITE retransmissions keep
    ///   being absorbed until Timer L (RFC 6026 Figure 7).
    /// * Confirmed: nothing is being sent any more; ignored.
    public mutating func transportError() -> [Action] {
        switch self.state {
        case .proceeding:
            self.state = .terminated
            return [.transportError, .terminated(.transportError)]
        case .completed:
            var actions: [Action] = []
            if self.transport == .unreliable {
                actions.append(.cancelTimer(.G))
            }
            actions.append(contentsOf: [.cancelTimer(.H), .transportError, .terminated(.transportError)])
            self.state = .terminated
            return actions
        case .accepted:
            return [.transportError]
        case .confirmed, .terminated:
            return []
        }
    }

    // MARK: - Timers

    /// A timer started by a `.startTimer` action fired.
    ///
    /// A timer that fires in a state where it is not running (e.g. it raced
    /// its cancellation) is ignored.
    public mutating func timerFired(_ timer: TransactionTimer) -> [Action] {
        switch (timer, self.state) {
        case (.G, .completed(let finalResponse, let gInterval)):
            guard self.transport == .unreliable else { return [] }
            let next = min(gInterval * 2, self.timers.t2)
            self.state = .completed(finalResponse: finalResponse, gInterval: next)
            return [.send(finalResponse), .startTimer(.G, after: next)]

        case (.H, .completed):
            var actions: [Action] = []
            if self.transport == .unreliable {
                actions.append(.cancelTimer(.G))
            }
            actions.append(contentsOf: [.timeout, .terminated(.timeout)])
            self.state = .terminated
            return actions

        case (.I, .confirmed):
            self.state = .terminated
            return [.terminated(.normal)]

        case (.L, .accepted):
            self.state = .terminated
            return [.terminated(.normal)]

        default:
            return []
        }
    }
}

extension ServerInviteTransaction.Action: Equatable where Response: Equatable {}
