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
    public var speech: (any SpeechSynthesizer)?
    public var webhooks: (any WebhookClient)?
    /// Queues by name (`queues:` in the config).
    public var queues: [String: QueueSettings]
    /// Where `record` stores messages (`<data-dir>/messages`); nil: messages are not kept.
    public var messageDirectory: String?
    /// Ringing before the answer (`calls.answer-delay`).
    public var answerDelay: Duration
    /// Where our SIP listens, for the Refer-To of a blind transfer.
    public var sipHost: String
    public var sipPort: Int

    public init(
        originator: Originator? = nil, speech: (any SpeechSynthesizer)? = nil, webhooks: (any WebhookClient)? = nil,
        queues: [String: QueueSettings] = [:], messageDirectory: String? = nil, answerDelay: Duration = .zero,
        sipHost: String = "127.0.0.1", sipPort: Int = 5060
    ) {
        self.originator = originator
        self.speech = speech
        self.webhooks = webhooks
        self.queues = queues
        self.messageDirectory = messageDirectory
        self.answerDelay = answerDelay
        self.sipHost = sipHost
        self.sipPort = sipPort
    }
}

/// A queue of agent seats. Until the ACD exists (the queues issue), `enqueue` rings every
/// member's registered phones at once (ringall) while the caller hears music on hold; the
/// first to answer takes the call.
public struct QueueSettings: Sendable, Equatable {
    public var name: String
    /// Accounts (seats) that take the queue's calls.
    public var members: [String]
    /// How long a caller waits before leaving the queue (`TIMEOUT`).
    public var timeout: Duration
    public init(name: String, members: [String], timeout: Duration = .seconds(120)) {
        self.name = name
        self.members = members
        self.timeout = timeout
    }
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
        guard let queue = services.queues[request.queue], let originator = services.originator else {
            return .left(reason: "JOINEMPTY")
        }
        let timeout = request.timeout ?? queue.timeout
        logger.info("queued", metadata: ["queue": "\(queue.name)", "priority": "\(request.priority)"])
        if let music = prompts.holdMusic { _ = rtp.play([music], interruptible: false, loop: true) }
        var headers = [SIPHeader(name: "X-Hotline-Call-ID", value: id.rawValue), SIPHeader(name: "X-Hotline-Queue", value: queue.name)]
        if let path = request.context["ivr.path"] { headers.append(SIPHeader(name: "X-Hotline-IVR-Path", value: path)) }
        let members = queue.members
        let result = await untilEnded { [self, headers] in
            await ringAll(members, originator: originator, headers: headers, timeout: timeout, loop: rtp.eventLoop)
        }
        switch result {
        case .success(let leg):
            rtp.stopPlayback()
            try await converse(with: leg)
            return .connected
        case .failure(let error):
            rtp.stopPlayback()
            if let ended = endCause { throw CallEnded(cause: ended) }
            let reason: String
            switch error {
            case .notRegistered, .noRoute: reason = "JOINEMPTY"
            case .failed, .noMedia, .cancelled: reason = "TIMEOUT"
            }
            logger.info("left queue", metadata: ["queue": "\(queue.name)", "reason": "\(reason)"])
            return .left(reason: reason)
        }
    }

    /// Rings every member at once; the first to answer wins, the others are cancelled.
    private func ringAll(_ members: [String], originator: Originator, headers: [SIPHeader], timeout: Duration,
                         loop: EventLoop) async -> Result<Leg, OriginateError> {
        await withTaskGroup(of: Result<Leg, OriginateError>.self) { group in
            for member in members {
                group.addTask { [callerNumber, codec] in
                    do {
                        let leg = try await originator.originate(
                            to: member, from: callerNumber, headers: headers, on: loop, ringTimeout: timeout,
                            preferring: Self.audioCodec(named: codec))
                        return .success(leg)
                    } catch {
                        return .failure((error as? OriginateError) ?? .cancelled)
                    }
                }
            }
            var winner: Leg?
            var lastError: OriginateError = .notRegistered(members.first ?? "")
            var anyRang = false
            while let result = await group.next() {
                switch result {
                case .success(let leg):
                    if winner == nil, endCause == nil {
                        winner = leg
                        group.cancelAll()
                    } else {
                        leg.sip.hangup()
                        leg.rtp.close(cause: .cancelled)
                    }
                case .failure(let error):
                    if case .notRegistered = error {} else { anyRang = true; lastError = error }
                }
            }
            if let winner { return .success(winner) }
            return .failure(anyRang ? lastError : .notRegistered(members.joined(separator: ",")))
        }
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
