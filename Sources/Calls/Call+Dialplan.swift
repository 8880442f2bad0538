import ACD
import Dialplan
import Foundation
import HotlineCore
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import Recording
import SDP
import SIPMessages
import SIPStack

/// What an IVR call may reach beyond its own legs: other parties, the TTS engine, HTTP.
public struct CallServices: Sendable {
    /// Dials agents and numbers (nil: `dial`, `transfer` and `enqueue` fail).
    public var originator: Originator?
    /// For supervisors' conferences on queue calls.
    public var media: MediaEngine?
    public var speech: (any SpeechSynthesizer)?
    public var webhooks: (any WebhookClient)?
    /// The ACD (`queues:` and `agents:` in the config); nil: `enqueue` fails with JOINEMPTY.
    public var queues: QueueService?
    /// Where `record` stores messages (`<data-dir>/messages`); nil: messages are not kept.
    public var messageDirectory: String?
    /// Ringing before the answer (`calls.answer-delay`).
    public var answerDelay: Duration
    /// Where our SIP listens, for the Refer-To of a blind transfer.
    public var sipHost: String
    public var sipPort: Int

    public init(
        originator: Originator? = nil, media: MediaEngine? = nil, speech: (any SpeechSynthesizer)? = nil, webhooks: (any WebhookClient)? = nil,
        queues: QueueService? = nil, messageDirectory: String? = nil, answerDelay: Duration = .zero,
        sipHost: String = "127.0.0.1", sipPort: Int = 5060
    ) {
        self.originator = originator
        self.media = media
        self.speech = speech
        self.webhooks = webhooks
        self.queues = queues
        self.messageDirectory = messageDirectory
        self.answerDelay = answerDelay
        self.sipHost = sipHost
        self.sipPort = sipPort
    }
}

/// What a waiting caller hears besides music (the queue's `announce-*` and `callback-key`).
public struct QueueAnnouncements: Sendable, Equatable {
    public var position: Bool
    public var holdTime: Bool
    /// Also announce right after joining (else only every `announce-frequency`).
    public var announceOnJoin: Bool
    /// A prompt played at each announcement (`periodic-announce`).
    public var periodicPrompt: String?
    /// The key that turns the wait into a call back (virtual hold); nil: none.
    public var callbackKey: Character?
    /// The dialplan node a `callback` overflow goes to.
    public var callbackNode: String
    public init(position: Bool = false, holdTime: Bool = false, announceOnJoin: Bool = false, periodicPrompt: String? = nil,
                callbackKey: Character? = nil, callbackNode: String = "callback-offer") {
        self.periodicPrompt = periodicPrompt
        self.position = position
        self.holdTime = holdTime
        self.announceOnJoin = announceOnJoin
        self.callbackKey = callbackKey
        self.callbackNode = callbackNode
    }
}

/// The caller's wait in a queue: the queue's signals, keys and the end of the call, in one stream.
enum QueueWait: Sendable {
    case signal(QueueSignal)
    case key(Character)
    case ended
}

/// An HTTP client for the dialplan's `webhook` verb.
public protocol WebhookClient: Sendable {
    func send(_ request: WebhookRequest) async -> WebhookResult
}

extension Call: DialplanCall {
    public func answer() async throws(CallEnded) {
        try await answerCall()
    }

    public func play(_ names: [String], language: String, voice: String, interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        let rtp = try activeRTP()
        let list = names.compactMap { name -> EncodedPrompt? in
            guard let p = prompts.prompt(name, language: language, voice: voice) else {
                logger.error("prompt missing", metadata: ["prompt": "\(name)", "language": "\(language)"])
                return nil
            }
            return p
        }
        return try await wait(rtp.play(list, interruptible: interruptible))
    }

    public func say(_ text: String, language: String, voice: String, interruptible: Bool) async throws(CallEnded) -> PlaybackOutcome {
        let rtp = try activeRTP()
        guard let speech = services.speech else {
            logger.error("say: no TTS engine configured")
            return .finished
        }
        do {
            let prompt = try await speech.synthesize(text, language: language, voice: voice)
            return try await wait(rtp.play([prompt], interruptible: interruptible))
        } catch let ended as CallEnded {
            throw ended
        } catch {
            logger.error("say: speech synthesis failed", metadata: ["error": "\(error)"])
            return .finished
        }
    }

    public func collectDigit(timeout: Duration) async throws(CallEnded) -> Character? {
        let rtp = try activeRTP()
        return try await wait(rtp.collectDigit(timeout: TimeAmount.milliseconds(timeout.milliseconds)))
    }

    public func hangup() async {
        await hangup(cause: .normalClearing)
    }

    // MARK: Queues and dialling

    public func enqueue(_ request: QueueRequest) async throws(CallEnded) -> QueueOutcome {
        let rtp = try activeRTP()
        guard let service = services.queues else { return .left(reason: ExitReason.joinEmpty.rawValue) }
        var context: [String: String] = ["language": language]
        for (key, value) in request.context where key == "ivr.path" || key.hasPrefix("repeat.") || key.hasPrefix("ticket.") {
            context[key] = value
        }
        let join = JoinRequest(
            entry: id.rawValue, queue: request.queue, priority: request.priority,
            skills: request.skills.compactMap(SkillRequirement.init(parsing:)), caller: callerNumber, context: context,
            timeout: request.timeout)
        let signals: AsyncStream<QueueSignal>
        do {
            signals = try await service.join(join, loop: rtp.eventLoop, codec: Self.audioCodec(named: codec))
        } catch {
            logger.error("cannot queue", metadata: ["queue": "\(request.queue)", "error": "\(error)"])
            return .left(reason: ExitReason.joinEmpty.rawValue)
        }
        let settings = service.announcements[request.queue]
        // One stream for the queue's signals, the caller's keys and the caller hanging up.
        let (waits, feed) = AsyncStream<QueueWait>.makeStream()
        let forward = Task {
            for await signal in signals { feed.yield(.signal(signal)) }
        }
        let keys = Task { [weak self] in
            guard settings?.callbackKey != nil else { return }
            while !Task.isCancelled, let self {
                guard let rtp = self.rtp, let key = try? await self.wait(rtp.collectDigit(timeout: .seconds(1))) else {
                    if self.endCause != nil { return }
                    continue
                }
                feed.yield(.key(key))
            }
        }
        // Hanging up while queued is an ABANDON, told before the call's `ended` event.
        let queuedAt = ContinuousClock.now
        let waiting = NIOLockedValueBox(true)
        let abandoned: @Sendable () -> Void = { [weak self] in
            guard waiting.withLockedValue({ w in defer { w = false }; return w }) else { return }
            self?.emit(QueueEventType.left, [
                "queue": .string(request.queue), "reason": .string(ExitReason.abandon.rawValue),
                "waitedMs": .int((ContinuousClock.now - queuedAt).acdMilliseconds),
            ])
            feed.yield(.ended)
        }
        let hungUp = state.withLockedValue { s -> Bool in
            if s.ended != nil { return true }
            s.cancelOnEnd.append(abandoned)
            return false
        }
        if hungUp { abandoned() }
        defer {
            forward.cancel()
            keys.cancel()
        }
        // A callback owed to this caller (asked for, or missed-call) continues this call's events.
        afterLastEvent { [id] next in
            Task { await service.callerCallEnded(id.rawValue, nextSequence: next) }
        }
        startHoldMusic(rtp)
        for await wait in waits {
            switch wait {
            case .ended:
                await service.abandon(id.rawValue)
                throw CallEnded(cause: endCause ?? .callerHangup)
            case .key(let key):
                guard key == settings?.callbackKey else { continue }
                try? await service.requestCallback(id.rawValue, number: callerNumber)
            case .signal(let signal):
                switch signal {
                case .joined(let position, let predicted):
                    emit(QueueEventType.joined, [
                        "queue": .string(request.queue), "position": .int(Int64(position)), "priority": .int(Int64(request.priority)),
                        "predictedWaitMs": predicted.map { .int($0.acdMilliseconds) } ?? .null,
                    ])
                    if let settings, settings.announceOnJoin {
                        await announce(position: position, predicted: predicted, settings: settings, rtp: rtp)
                    }
                case .announce(let position, let predicted):
                    if let settings { await announce(position: position, predicted: predicted, settings: settings, rtp: rtp) }
                case .offered(let agent, let seat):
                    emit(AgentEventType.offered, ["agent": .string(agent), "seat": .string(seat), "queue": .string(request.queue)])
                case .offerEnded(let agent, let reason):
                    emit(AgentEventType.noAnswer, ["agent": .string(agent), "reason": .string(reason), "queue": .string(request.queue)])
                case .connected(let leg, let agent):
                    guard waiting.withLockedValue({ w in defer { w = false }; return w }) else {
                        // The caller hung up as the agent answered: free the agent.
                        leg.sip.hangup()
                        leg.rtp.close(cause: .cancelled)
                        await service.conversationEnded(agent: agent, entry: id.rawValue)
                        continue
                    }
                    keys.cancel()
                    rtp.stopPlayback()
                    emit(AgentEventType.answered, ["agent": .string(agent), "queue": .string(request.queue)])
                    emit(QueueEventType.left, [
                        "queue": .string(request.queue), "reason": .string(ExitReason.answered.rawValue),
                        "waitedMs": .int((ContinuousClock.now - queuedAt).acdMilliseconds),
                    ])
                    do {
                        try await converse(with: leg)
                    } catch {
                        await service.conversationEnded(agent: agent, entry: id.rawValue)
                        throw error
                    }
                    await service.conversationEnded(agent: agent, entry: id.rawValue)
                    return .connected
                case .left(let reason, let overflow, let waited):
                    if case .queue = overflow {} else {
                        guard waiting.withLockedValue({ w in defer { w = false }; return w }) else { continue }
                    }
                    rtp.stopPlayback()
                    var data: [String: JSONValue] = [
                        "queue": .string(request.queue), "reason": .string(reason.rawValue), "waitedMs": .int(waited.acdMilliseconds),
                    ]
                    if let overflow { data["overflow"] = .string(overflow.description) }
                    emit(QueueEventType.left, data)
                    switch overflow {
                    case .queue:
                        startHoldMusic(rtp)   // moved to another queue: the wait goes on
                        continue
                    case .node(let node):
                        return .overflow(node: node)
                    case .callback:
                        return .overflow(node: settings?.callbackNode ?? "callback-offer")
                    case nil:
                        return .left(reason: reason.rawValue)
                    }
                case .callbackScheduled(let number):
                    guard waiting.withLockedValue({ w in defer { w = false }; return w }) else { continue }
                    keys.cancel()
                    rtp.stopPlayback()
                    emit(QueueEventType.callbackScheduled, ["queue": .string(request.queue), "number": .string(number)])
                    let text = language.hasPrefix("zh") ? "好的，轮到您时我们会回电，请挂机。" : "We will call you back when it is your turn. You may hang up now."
                    _ = try? await say(text, language: language, voice: "normal", interruptible: false)
                    return .callback
                }
            }
        }
        throw CallEnded(cause: endCause ?? .callerHangup)
    }

    private func startHoldMusic(_ rtp: RTPSession) {
        if let music = prompts.holdMusic { _ = rtp.play([music], interruptible: false, loop: true) }
    }

    /// "You are number 3; about 4 minutes": spoken over a pause in the music.
    private func announce(position: Int, predicted: Duration?, settings: QueueAnnouncements, rtp: RTPSession) async {
        var parts: [String] = []
        let zh = language.hasPrefix("zh")
        if settings.position {
            parts.append(zh ? "您现在排在第\(position)位。" : "You are number \(position) in the queue.")
        }
        if settings.holdTime, let predicted {
            let minutes = max(1, Int((predicted.acdMilliseconds + 59_999) / 60_000))
            parts.append(zh ? "预计等待约\(minutes)分钟。" : "The expected wait is about \(minutes) minute\(minutes == 1 ? "" : "s").")
        }
        if let key = settings.callbackKey {
            parts.append(zh ? "如需回电，请按\(key)。" : "To be called back instead, press \(key).")
        }
        guard !parts.isEmpty || settings.periodicPrompt != nil else { return }
        rtp.stopPlayback()
        if !parts.isEmpty {
            _ = try? await say(parts.joined(separator: " "), language: language, voice: "normal", interruptible: false)
        }
        if let prompt = settings.periodicPrompt, endCause == nil {
            _ = try? await play([prompt], language: language, voice: "normal", interruptible: false)
        }
        if endCause == nil { startHoldMusic(rtp) }
    }

    public func dial(_ request: DialRequest) async throws(CallEnded) -> DialOutcome {
        let rtp = try activeRTP()
        if request.mode == .blind {
            let target = "sip:\(request.target)@\(services.sipHost):\(services.sipPort)"
            let status = (try? await sip.refer(to: target).get()) ?? 503
            if (200..<300).contains(status) {
                logger.info("blind transfer accepted", metadata: ["to": "\(request.target)"])
                emit(CallEventType.transferred, ["by": .string("dialplan"), "target": .string(request.target), "status": .int(Int64(status))])
                // The caller's phone calls the target and then hangs up on us; don't wait forever.
                let deadline = ContinuousClock.now + .seconds(30)
                while endCause == nil, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(200)) }
                return .connected
            }
            logger.info("blind transfer refused; bridging", metadata: ["to": "\(request.target)", "status": "\(status)"])
        }
        guard let originator = services.originator else { return .failed(status: "failed") }
        rtp.stopPlayback()
        let dialled = await untilEnded { [id, callerNumber, codec] () -> Result<Leg, OriginateError> in
            do {
                return .success(try await originator.originate(
                    to: request.target, from: callerNumber, headers: [SIPHeader(name: "X-Hotline-Call-ID", value: id.rawValue)],
                    on: rtp.eventLoop, ringTimeout: request.timeout, preferring: Self.audioCodec(named: codec), via: request.trunk))
            } catch {
                return .failure((error as? OriginateError) ?? .cancelled)
            }
        }
        do {
            let leg = try dialled.get()
            try await converse(with: leg)
            return .connected
        } catch let ended as CallEnded {
            throw ended
        } catch let error as OriginateError {
            if let ended = endCause { throw CallEnded(cause: ended) }
            logger.info("dial failed", metadata: ["to": "\(request.target)", "error": "\(error)"])
            switch error {
            case .failed(let status, _) where status == 486 || status == 600: return .failed(status: "busy")
            case .failed(let status, _) where status == 408 || status == 480 || status == 487: return .failed(status: "no-answer")
            case .notRegistered: return .failed(status: "no-answer")
            default: return .failed(status: "failed")
            }
        } catch {
            return .failed(status: "failed")
        }
    }

    /// Bridges the caller to `leg` and returns when either side hung up.
    private func converse(with leg: Leg) async throws(CallEnded) {
        let rtp = try activeRTP()
        let attached = state.withLockedValue { s -> Bool in
            guard s.ended == nil else { return false }
            s.connected = leg
            return true
        }
        guard attached else {
            leg.sip.hangup()
            leg.rtp.close(cause: .cancelled)
            throw CallEnded(cause: endCause ?? .callerHangup)
        }
        leg.sip.setEventHandler { [weak self, weak leg] event in
            guard let self, let leg else { return }
            switch event {
            case .remoteHangup, .transportFailure, .sessionExpired, .ackTimeout, .cancelled:
                leg.rtp.close(cause: .callerHangup)
                self.disconnected(leg)
            case .infoDigit(let digit):
                self.sip.sendInfoDigit(digit)
            case .referred:
                leg.sip.notifyReferProgress(statusCode: 603)
            case .remoteModified, .confirmed, .ringing, .earlyMedia, .answered, .failed, .referProgress:
                break
            }
        }
        _ = try? await rtp.bridge(with: leg.rtp).get()
        emit(CallEventType.connected, ["party": .string(leg.party)])
        logger.info("caller connected", metadata: ["party": "\(leg.party)"])
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { s -> Bool in
                guard s.ended == nil, s.connected === leg else { return true }
                s.connectionWaiter = c
                return false
            }
            if resumeNow { c.resume() }
        }
        rtp.unbridge()
        if let conference = state.withLockedValue({ $0.conference }) {
            _ = conference.leave(rtp)
            _ = conference.leave(leg.rtp)
            releaseSupervisors(.normalClearing)
        }
        if let ended = endCause { throw CallEnded(cause: ended) }
    }

    private func disconnected(_ leg: Leg) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            guard s.connected === leg else { return nil }
            s.connected = nil
            defer { s.connectionWaiter = nil }
            return s.connectionWaiter
        }
        waiter?.resume()
    }

    static func audioCodec(named name: String) -> AudioCodec? {
        AudioCodec.allCases.first { MediaCodec($0).name == name }
    }

    // MARK: Messages

    public func recordMessage(_ request: MessageRequest) async throws(CallEnded) -> RecordedMessage? {
        let rtp = try activeRTP()
        if request.beep {
            _ = try await wait(rtp.play([Self.beep], interruptible: false))
        }
        let capture = MessageCapture(silenceThreshold: 500)
        let rate = try await wait(rtp.startCapture { frame in capture.append(frame) })
        defer { rtp.stopCapture() }
        let started = ContinuousClock.now
        while true {
            let key = try await collectDigit(timeout: .milliseconds(100))
            if let key, key == request.terminator { break }
            let elapsed = ContinuousClock.now - started
            if elapsed >= request.maxLength { break }
            let quiet = capture.quietFor(rate: rate)
            if quiet >= request.silence { break }
        }
        rtp.stopCapture()
        let (samples, spoke) = capture.take()
        guard spoke, let directory = services.messageDirectory else { return nil }
        let now = Date()
        let day = now.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day().dateSeparator(.dash))
            .replacingOccurrences(of: "-", with: "/")
        let folder = directory + "/" + day
        let path = folder + "/\(id.rawValue)-\(Int(now.timeIntervalSince1970)).wav"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try WAVFile(sampleRate: rate, channels: 1, samples: samples).write(to: path)
        } catch {
            logger.error("message not saved", metadata: ["path": "\(path)", "error": "\(error)"])
            return nil
        }
        let duration = Duration.milliseconds(samples.count * 1000 / max(rate, 1))
        emit(CallEventType.messageRecorded, [
            "path": .string(path), "durationMs": .int(Int64(duration.milliseconds)), "sampleRate": .int(Int64(rate)),
        ])
        logger.info("message recorded", metadata: ["path": "\(path)", "ms": "\(duration.milliseconds)"])
        return RecordedMessage(path: path, duration: duration)
    }

    /// 1 kHz for 300 ms before a message.
    static let beep: EncodedPrompt = {
        let samples = (0..<2400).map { i in Int16(8000 * sin(2 * Double.pi * 1000 * Double(i) / 8000)) }
        return PromptLibrary.encode(name: "beep", language: "", samples: samples)
    }()

    // MARK: HTTP

    public func webhook(_ request: WebhookRequest) async -> WebhookResult {
        guard let client = services.webhooks else { return .failed(reason: "no HTTP client") }
        return await client.send(request)
    }
}

/// The caller's audio while a message is recorded, with a simple energy detector: frames
/// whose RMS is under the threshold are silence.
final class MessageCapture: Sendable {
    private struct State {
        var samples: [Int16] = []
        var spoke = false
        /// Samples since the last loud frame (or since the start).
        var quietSamples = 0
    }
    private let state = NIOLockedValueBox(State())
    private let threshold: Double

    init(silenceThreshold: Double) {
        self.threshold = silenceThreshold
    }

    func append(_ frame: [Int16]) {
        var sum = 0.0
        for s in frame { sum += Double(s) * Double(s) }
        let rms = frame.isEmpty ? 0 : (sum / Double(frame.count)).squareRoot()
        state.withLockedValue { s in
            s.samples.append(contentsOf: frame)
            if rms >= threshold {
                s.spoke = true
                s.quietSamples = 0
            } else {
                s.quietSamples += frame.count
            }
        }
    }

    func quietFor(rate: Int) -> Duration {
        .milliseconds(state.withLockedValue { $0.quietSamples } * 1000 / max(rate, 1))
    }

    func take() -> ([Int16], Bool) {
        state.withLockedValue { ($0.samples, $0.spoke) }
    }
}

extension CallEventType {
    /// An IVR caller was connected to an agent or a dialled party.
    public static let connected = "hotline.call.connected"
}
