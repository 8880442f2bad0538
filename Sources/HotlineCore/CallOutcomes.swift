/// How a prompt's playback ended: to the end, or stopped by a key (which stays queued).
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
