/// What a call script (the first menu today, the dialplan interpreter later) may do to a call.
/// Implemented by `Calls`; faked in tests. Every operation completes on the call's event loop
/// and throws `CallEnded` once the call is gone, so a script unwinds by itself when the
/// caller hangs up.
public protocol CallControl: Sendable {
    var id: CallIdentifier { get }
    /// The caller's number (From user part) and the number dialled (Request-URI user part).
    var callerNumber: String { get }
    var calledNumber: String { get }
    /// The prompt language chosen for this call, e.g. `zh-CN`.
    var language: String { get }

    /// Plays prompts one after another. When `interruptible`, playback stops as soon as the
    /// caller presses a key; the key stays queued for `collectDigit`.
    func play(_ prompts: [String], interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome

    /// Takes the next key the caller pressed (queued keys first), or nil after `timeout`.
    func collectDigit(timeout: Duration) async throws(CallEnded) -> Character?

    /// Ends the call from our side (BYE, or a final response before answer).
    func hangup(cause: HangupCause) async
}

public enum PlaybackOutcome: Sendable, Equatable {
    case finished
    case interrupted(by: Character)
}

/// Thrown by call operations once the call has ended, with the reason it ended.
public struct CallEnded: Error, Sendable, Equatable {
    public var cause: HangupCause
    public init(cause: HangupCause) { self.cause = cause }
}

/// Why a call ended, in the terms a call detail record uses.
public enum HangupCause: String, Sendable, Equatable, Codable {
    /// The caller sent BYE.
    case callerHangup = "caller-hangup"
    /// The caller sent CANCEL before the answer (487).
    case cancelled = "cancelled"
    /// The dialled number is not a configured line (404).
    case notFound = "not-found"
    /// The call was refused before answer: no common codec, no offer, no media port (4xx/5xx).
    case rejected = "rejected"
    /// The node died while the call was up; reported at the next start.
    case nodeRestart = "node-restart"
    /// The script ended the call (e.g. goodbye after three timeouts).
    case normalClearing = "normal-clearing"
    /// No RTP arrived for the configured no-media timeout.
    case mediaTimeout = "media-timeout"
    /// Our 2xx was never acknowledged (RFC 3261 13.3.1.4: 64*T1 without ACK).
    case ackTimeout = "ack-timeout"
    /// The daemon shut down and the drain timeout passed.
    case shutdown = "shutdown"
    /// A SIP-level failure (transport error, BYE timed out).
    case signallingFailure = "signalling-failure"
}
