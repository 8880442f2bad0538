import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import SIPStack

/// One citizen's call: its SIP leg (the INVITE session) and its media leg (the RTP session).
/// Implements `CallControl` for the script that runs against it.
public final class Call: CallControl, @unchecked Sendable {   // mutable state behind `state`
    public let id: CallIdentifier
    public let callerNumber: String
    public let calledNumber: String
    public let language: String
    public let startedAt: ContinuousClock.Instant
    let sip: InviteServerSession
    private let prompts: PromptLibrary
    private let logger: Logger

    private struct State {
        var rtp: RTPSession?
        var answeredAt: ContinuousClock.Instant?
        var ended: HangupCause?
        var endedAt: ContinuousClock.Instant?
        var onEnd: [@Sendable (Call) -> Void] = []
    }
    private let state = NIOLockedValueBox(State())

    init(id: CallIdentifier, sip: InviteServerSession, language: String, prompts: PromptLibrary, logger: Logger) {
        self.id = id
        self.sip = sip
        self.callerNumber = sip.callerNumber
        self.calledNumber = sip.calledNumber
        self.language = language
        self.prompts = prompts
        self.startedAt = .now
        var logger = logger
        logger[metadataKey: "call"] = "\(id)"
        self.logger = logger
    }

    public var endCause: HangupCause? { state.withLockedValue { $0.ended } }
    public var rtp: RTPSession? { state.withLockedValue { $0.rtp } }

    // MARK: CallControl

    public func play(_ names: [String], interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        let rtp = try activeRTP()
        let list = names.compactMap { name -> EncodedPrompt? in
            guard let p = prompts.prompt(name, language: language) else {
                logger.error("prompt missing", metadata: ["prompt": "\(name)", "language": "\(language)"])
                return nil
            }
            return p
        }
        return try await wait(rtp.play(list, interruptible: interruptible))
    }

    public func collectDigit(timeout: Duration) async throws(CallEnded) -> Character? {
        let rtp = try activeRTP()
        return try await wait(rtp.collectDigit(timeout: TimeAmount.milliseconds(timeout.milliseconds)))
    }

    public func hangup(cause: HangupCause) async {
        guard markEnded(cause) else { return }
        rtp?.close(cause: cause)
        _ = try? await sip.hangup().get()
        finish()
    }

    // MARK: Events from the legs

    func attach(_ rtp: RTPSession) -> Bool {
        state.withLockedValue { s in
            guard s.ended == nil else { return false }
            s.rtp = rtp
            return true
        }
    }

    func onEnd(_ handler: @escaping @Sendable (Call) -> Void) {
        state.withLockedValue { $0.onEnd.append(handler) }
    }

    func sipEvent(_ event: InviteServerSession.Event, script: @escaping @Sendable (Call) async -> Void) {
        switch event {
        case .confirmed:
            state.withLockedValue { $0.answeredAt = .now }
            Task { await script(self) }
        case .cancelled: end(.callerHangup)
        case .remoteHangup: end(.callerHangup)
        case .ackTimeout: end(.ackTimeout)
        case .transportFailure: end(.signallingFailure)
        }
    }

    func mediaEvent(_ event: MediaEvent) {
        switch event {
        case .noMediaTimeout:
            logger.notice("no RTP received; hanging up")
            Task { await hangup(cause: .mediaTimeout) }
        }
    }

    /// The call ended by the other side or the network: release media, notify.
    func end(_ cause: HangupCause) {
        guard markEnded(cause) else { return }
        rtp?.close(cause: cause)
        finish()
    }

    // MARK: Internals

    private func markEnded(_ cause: HangupCause) -> Bool {
        state.withLockedValue { s in
            guard s.ended == nil else { return false }
            s.ended = cause
            s.endedAt = .now
            return true
        }
    }

    private func finish() {
        let handlers = state.withLockedValue { s -> [@Sendable (Call) -> Void] in
            let h = s.onEnd
            s.onEnd = []
            return h
        }
        for h in handlers { h(self) }
    }

    private func activeRTP() throws(CallEnded) -> RTPSession {
        let (rtp, ended) = state.withLockedValue { ($0.rtp, $0.ended) }
        if let ended { throw CallEnded(cause: ended) }
        guard let rtp else { throw CallEnded(cause: .signallingFailure) }
        return rtp
    }

    private func wait<T: Sendable>(_ future: EventLoopFuture<T>) async throws(CallEnded) -> T {
        do {
            return try await future.get()
        } catch let ended as CallEnded {
            throw ended
        } catch {
            throw CallEnded(cause: endCause ?? .signallingFailure)
        }
    }

    /// Seconds from INVITE to end, and from answer to end (talk time), for the record.
    var durations: (total: Duration, answered: Duration?) {
        state.withLockedValue { s in
            let end = s.endedAt ?? .now
            return (end - startedAt, s.answeredAt.map { end - $0 })
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
