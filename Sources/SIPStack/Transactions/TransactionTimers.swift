// Shared vocabulary of the RFC 3261 §17 transaction state machines.
//
// The machines in this folder are pure value types: they perform no I/O, own
// no clocks and know nothing about the SIP message model. The owner (a channel
// handler) feeds them inputs and executes the actions they return, in order.

/// The base timer values of RFC 3261 §17.1.1.1 / table 4.
///
/// Every derived timer (A, B, D, E, F, G, H, I, J, K and the RFC 6026 timers L
/// and M) is computed from these three values.
public struct TransactionTimers: Sendable, Equatable {
    /// RTT estimate. Default 500 ms.
    public var t1: Duration
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses. Default 4 s.
    public var t2: Duration
    /// Maximum duration a message will remain in the network. Default 5 s.
    public var t4: Duration

    public init(
        t1: Duration = .milliseconds(500),
        t2: Duration = .seconds(4),
        t4: Duration = .seconds(5)
    ) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// `64*T1`: the transaction timeout used by Timers B, F, H, J (unreliable),
    /// L and M.
    public var transactionTimeout: Duration {
        self.t1 * 64
    }

    /// Timer D: "at least 32 seconds" for unreliable transports (§17.1.1.2).
    /// We use `max(32 s, 64*T1)` so that a raised T1 never shortens the
    /// window in which retransmitted final responses are still acknowledged.
    public var timerDUnreliable: Duration {
        max(.seconds(32), self.transactionTimeout)
    }
}

/// The timers of RFC 3261 §17 (table 4), plus L and M from RFC 6026.
///
/// A transaction owns at most one instance of each timer, so the owner can key
/// its scheduled tasks by `TransactionTimer` alone. A `.startTimer(t, ...)`
/// action is never emitted for a timer that is still running, except for the
/// retransmission timers (A, E, G) which are only restarted from their own
/// `timerFired` input (i.e. after they fired).
public enum TransactionTimer: Sendable, Hashable, CaseIterable {
    /// Client INVITE: request retransmit interval (unreliable only).
    case A
    /// Client INVITE: transaction timeout in the Calling state.
    case B
    /// Client INVITE: wait time for response retransmits in the Completed state.
    case D
    /// Client non-INVITE: request retransmit interval (unreliable only).
    case E
    /// Client non-INVITE: transaction timeout.
    case F
    /// Server INVITE: final response retransmit interval (unreliable only).
    case G
    /// Server INVITE: wait time for ACK receipt.
    case H
    /// Server INVITE: wait time for ACK retransmits in the Confirmed state.
    case I
    /// Server non-INVITE: wait time for request retransmits in the Completed state.
    case J
    /// Client non-INVITE: wait time for response retransmits in the Completed state.
    case K
    /// Server INVITE (RFC 6026): wait time in the Accepted state.
    case L
    /// Client INVITE (RFC 6026): wait time for 2xx retransmits/forks in the Accepted state.
    case M
}

/// Whether the transport the transaction runs over is reliable.
///
/// Reliable transports (TCP, TLS, SCTP) never start the retransmission timers
/// (A, E, G) and use zero-length D, I, J and K. The machines model a
/// zero-length timer as an immediate transition: instead of asking the owner to
/// schedule a timer of zero duration they terminate within the same input.
public enum TransportKind: Sendable, Hashable {
    case reliable
    case unreliable
}

/// Why a transaction reached the Terminated state.
public enum TransactionTerminationReason: Sendable, Hashable {
    /// The transaction ran to completion (Timers D, I, J, K, L, M, or their
    /// zero-length equivalents on reliable transports).
    case normal
    /// Timer B, F or H fired: the peer never answered / never acknowledged.
    case timeout
    /// The transport reported a failure (§17.1.4, §17.2.4).
    case transportError
    /// The TU gave up on the transaction explicitly (e.g. RFC 3261 §9.1: no
    /// final response 64*T1 after sending CANCEL).
    case abandonedByTU
}

/// Status-code classification used by the transaction machines. Namespaced so
/// it cannot collide with helpers of the message model.
enum TransactionStatusClass {
    /// 1xx.
    static func isProvisional(_ code: Int) -> Bool { (100...199).contains(code) }
    /// 2xx.
    static func isSuccess(_ code: Int) -> Bool { (200...299).contains(code) }
    /// 3xx-6xx.
    static func isFailure(_ code: Int) -> Bool { (300...699).contains(code) }
    /// 2xx-6xx.
    static func isFinal(_ code: Int) -> Bool { (200...699).contains(code) }
}
