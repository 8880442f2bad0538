import ACD
import Dialplan
import Foundation
import HotlineCore
import Logging
import Media
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import Recording
import SDP
import SIPMessages
import SIPStack

/// A called number this node answers, and how.
public struct Line: Sendable {
    public var number: String
    /// The language the caller starts in (the dialplan's own when nil).
    public var language: String?
    /// The dialplan's name (its file in `Dialplans/` without `.yaml`).
    public var dialplan: String
    public init(number: String, language: String?, dialplan: String) {
        self.number = number
        self.language = language
        self.dialplan = dialplan
    }
}

/// Calls from a number in the last 24 hours and 7 days (the current one excluded).
public typealias RepeatCallCounter = @Sendable (_ caller: String) async -> (day: Int, week: Int)

public struct CallSettings: Sendable {
    public var lines: [String: Line]
    /// Hang up when no RTP arrived for this long (nil: never).
    public var noMediaTimeout: Duration?
    /// Ring (180) this long before answering; zero answers at once.
    /// Codecs accepted in offers (`media.codecs`); the offerer's order picks among them.
    public var codecs: [AudioCodec]
    /// Where and how calls are recorded; nil: not recorded.
    public var recording: RecordingSettings?
    /// Variables every dialplan run starts with (`dialplans.variables`).
    public var dialplanVariables: [String: String]

    public init(lines: [Line], noMediaTimeout: Duration?, codecs: [AudioCodec] = AudioCodec.allCases, recording: RecordingSettings? = nil,
                dialplanVariables: [String: String] = [:]) {
        self.lines = Dictionary(lines.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
        self.noMediaTimeout = noMediaTimeout
        self.codecs = codecs
        self.recording = recording
        self.dialplanVariables = dialplanVariables
    }
}

/// The call layer's entry point: takes new INVITEs from the SIP endpoint, routes them by the
/// dialled number, negotiates media, answers, runs the call flow, and keeps the registry of
/// live calls (for drain on shutdown and for the API).
public final class CallManager: SIPEndpointDelegate, @unchecked Sendable {   // state in `calls`
    private let media: MediaEngine
    private let settings: CallSettings
    private let events: EventSink
    private let logger: Logger
    private let calls = NIOLockedValueBox<[CallIdentifier: Call]>([:])
    private let bridgedCalls = NIOLockedValueBox<[CallIdentifier: BridgedCall]>([:])
    private let originator: Originator?
    private let dialplans: DialplanRegistry
    private let services: CallServices
    private let repeatCalls: RepeatCallCounter?
    private let activeGauge = Gauge(label: "hotline_calls_active")
    /// Recordings still being closed (hashed, sidecar written); shutdown waits for them.
    private let recordingsClosing = NIOLockedValueBox(0)

    public init(media: MediaEngine, settings: CallSettings, dialplans: DialplanRegistry, services: CallServices, events: EventSink,
                logger: Logger, repeatCalls: RepeatCallCounter? = nil) {
        self.originator = services.originator
        self.dialplans = dialplans
        self.services = services
        self.repeatCalls = repeatCalls
        self.media = media
        self.settings = settings
        self.events = events
        self.logger = logger
    }

    public var activeCallCount: Int { calls.withLockedValue { $0.count } + bridgedCalls.withLockedValue { $0.count } }
    public var activeCalls: [Call] { calls.withLockedValue { Array($0.values) } }

    /// Adds a third party to a live call between phones (docs/api.md, `POST /v1/calls/{id}/conference`).
    public func addParty(call id: String, target: String) async throws(CallOperationError) {
        guard let call = bridgedCalls.withLockedValue({ $0[CallIdentifier(rawValue: id)] }) else {
            throw calls.withLockedValue({ $0[CallIdentifier(rawValue: id)] }) == nil ? .notFound : .notBridged
        }
        try await call.addParty(target)
    }

    /// Pauses or resumes a call's recording (`POST /v1/calls/{id}/recording`).
    public func setRecordingPaused(call id: String, paused: Bool) throws(CallOperationError) {
        let key = CallIdentifier(rawValue: id)
        let done: Bool
        if let call = calls.withLockedValue({ $0[key] }) {
            done = call.setRecordingPaused(paused)
        } else if let call = bridgedCalls.withLockedValue({ $0[key] }) {
            done = call.setRecordingPaused(paused)
        } else {
            throw .notFound
        }
        if !done { throw .notRecorded }
    }

    /// A supervisor listens, whispers to the agent, or barges in (`POST /v1/calls/{id}/monitor`).
    public func monitor(call id: String, supervisor: String, mode: MonitorMode) async throws(CallOperationError) {
        if let call = bridgedCalls.withLockedValue({ $0[CallIdentifier(rawValue: id)] }) {
            try await call.monitor(by: supervisor, mode: mode)
        } else if let call = calls.withLockedValue({ $0[CallIdentifier(rawValue: id)] }) {
            try await call.monitor(by: supervisor, mode: mode)   // a queue (or dialled) conversation
        } else {
            throw .notFound
        }
    }
    public func snapshots() -> [CallSnapshot] {
        (activeCalls.map(\.snapshot) + bridgedCalls.withLockedValue { $0.values.map(\.snapshot) }).sorted { $0.startedAt < $1.startedAt }
    }

    /// The data of `hotline.call.received`.
    private func receivedData(_ session: InviteServerSession, language: String?) -> [String: JSONValue] {
        let source = session.flow.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? ""
        return [
            "caller": .string(session.callerNumber), "called": .string(session.calledNumber),
            "sipCallId": .string(session.callID), "transport": .string(session.flow.viaTransport),
            "source": .string(source), "language": language.map { .string($0) } ?? .null,
        ]
    }

    /// A call refused before any media: `received` and `ended` events, then the final response.
    private func refuse(
        _ session: InviteServerSession, language: String?, status: Int, reason: String, cause: HangupCause,
        headers: [SIPHeader] = []
    ) {
        count(cause.rawValue)
        let id = CallIdentifier.random()
        let now = Date()
        let stamp = now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        events.append(CallEvent(type: CallEventType.received, callID: id, sequence: 1, time: now, data: receivedData(session, language: language)))
        events.append(CallEvent(type: CallEventType.ended, callID: id, sequence: 2, time: now, data: [
            "caller": .string(session.callerNumber), "called": .string(session.calledNumber),
            "startedAt": .string(stamp), "answeredAt": .null, "endedAt": .string(stamp),
            "durationMs": 0, "talkMs": .null, "cause": .string(cause.rawValue), "hangupBy": "hotline",
            "sipStatus": .int(Int64(status)), "media": .null,
        ]))
        session.reject(statusCode: status, reason: reason, headers: headers)
    }

    private func count(_ outcome: String) {
        Counter(label: "hotline_calls_total", dimensions: [("outcome", outcome)]).increment()
    }

    // Called on the SIP loop.
    public func endpoint(_ endpoint: SIPEndpoint, incomingCall session: InviteServerSession) {
        if case .account(let seat) = session.caller, session.calledNumber.hasPrefix("*9"), let queues = services.queues {
            featureCode(session, seat: seat, queues: queues)
            return
        }
        if settings.lines[session.calledNumber] == nil, case .account(let user) = session.caller, let originator {
            connectExtensionCall(session, from: user, originator: originator)
            return
        }
        guard let line = settings.lines[session.calledNumber] else {
            refuse(session, language: nil, status: 404, reason: "Not Found", cause: .notFound)
            return
        }
        // RFC 3264: the INVITE carries the offer. Offerless INVITEs (offer in our 2xx, answer in
        // the ACK) are not supported yet.
        guard !session.request.body.isEmpty,
            let offer = try? SessionDescription.parse(String(decoding: session.request.body, as: UTF8.self))
        else {
            refuse(session, language: line.language, status: 488, reason: "Not Acceptable Here", cause: .rejected,
                   headers: [SIPHeader(name: "Warning", value: "399 hotline \"an SDP offer is required\"")])
            return
        }
        var rng = SystemRandomNumberGenerator()
        let sessionID = UInt64.random(in: 1...UInt64(Int64.max), using: &rng)
        let negotiated: NegotiatedAudio
        do {
            negotiated = try OfferAnswer.answer(
                offer: offer, localAddress: media.address, localPort: 0, sessionID: sessionID, sessionVersion: sessionID,
                supported: settings.codecs
            ).negotiated
        } catch {
            refuse(session, language: line.language, status: 488, reason: "Not Acceptable Here", cause: .rejected,
                   headers: [SIPHeader(name: "Warning", value: "304 hotline \"no common audio codec (\(settings.codecs.map(\.encodingName).joined(separator: ", ")))\"")])
            return
        }

        let bundle = dialplans.current
        guard let plan = bundle.dialplans[line.dialplan] else {
            refuse(session, language: line.language, status: 503, reason: "Service Unavailable", cause: .rejected)
            return
        }
        let language = line.language.flatMap { plan.languages.contains($0) ? $0 : nil } ?? plan.language
        let interpreter = DialplanInterpreter(plan: plan, version: bundle.version, calendar: bundle.calendar, logger: logger)
        let variables = settings.dialplanVariables
        let repeatCalls = self.repeatCalls
        startCall(session, offer: offer, negotiated: negotiated, sessionID: sessionID, language: language, bundle: bundle,
                  metadata: ["dialplan": "\(plan.name)", "version": "\(bundle.version)"]) { call in
            var initial = variables
            if let repeatCalls {
                let counts = await repeatCalls(call.callerNumber)
                initial["repeat.day"] = String(counts.day)
                initial["repeat.week"] = String(counts.week)
            } else {
                initial["repeat.day"] = "0"
                initial["repeat.week"] = "0"
            }
            let outcome = await interpreter.run(call, language: language, variables: initial)
            call.logger.debug("dialplan finished", metadata: ["outcome": "\(outcome)"])
        }
    }

    /// A seat's feature code (`*90` log in, `*91` ready, `*92` not ready, `*93` log out): the
    /// call is answered, the result spoken, and the call ended.
    private func featureCode(_ session: InviteServerSession, seat: String, queues: QueueService) {
        guard !session.request.body.isEmpty,
            let offer = try? SessionDescription.parse(String(decoding: session.request.body, as: UTF8.self)),
            let negotiated = try? OfferAnswer.answer(
                offer: offer, localAddress: media.address, localPort: 0, sessionID: 1, sessionVersion: 1, supported: settings.codecs
            ).negotiated
        else {
            refuse(session, language: nil, status: 488, reason: "Not Acceptable Here", cause: .rejected)
            return
        }
        let code = session.calledNumber
        var rng = SystemRandomNumberGenerator()
        let sessionID = UInt64.random(in: 1...UInt64(Int64.max), using: &rng)
        startCall(session, offer: offer, negotiated: negotiated, sessionID: sessionID, language: "zh-CN", bundle: dialplans.current,
                  metadata: ["feature-code": "\(code)", "seat": "\(seat)"]) { call in
            let result = await queues.featureCode(code, seat: seat)
            let text: String
            switch result {
            case .success(let done):
                call.logger.info("feature code", metadata: ["code": "\(code)", "seat": "\(seat)", "result": "\(done)"])
                text = Self.featureCodeConfirmation[code] ?? "OK"
            case .failure(let error):
                call.logger.notice("feature code refused", metadata: ["code": "\(code)", "seat": "\(seat)", "error": "\(error)"])
                text = "操作失败。"
            }
            call.emit("hotline.agent.feature-code", ["code": .string(code), "seat": .string(seat),
                                                     "ok": .bool((try? result.get()) != nil)])
            guard (try? await call.answer()) != nil else { return }
            _ = try? await call.say(text, language: "zh-CN", voice: "normal", interruptible: false)
            await call.hangup()
        }
    }

    static let featureCodeConfirmation = ["*90": "已登录。", "*91": "已就绪。", "*92": "已示忙。", "*93": "已退出。"]

    /// Opens media for an answerable call (a line, a feature code), registers it, and runs
    /// `run` once its media is ready; the call answers when `run` decides.
    private func startCall(
        _ session: InviteServerSession, offer: SessionDescription, negotiated: NegotiatedAudio, sessionID: UInt64, language: String,
        bundle: DialplanBundle, metadata: Logger.Metadata, run: @escaping @Sendable (Call) async -> Void
    ) {
        let call = Call(
            id: .random(), sip: session, language: language, codec: MediaCodec(negotiated.codec).name,
            prompts: bundle.prompts, events: events, recording: settings.recording, services: services, logger: logger)
        call.emit(CallEventType.received, receivedData(session, language: language))
        session.setEventHandler { [weak call] event in call?.sipEvent(event) }
        calls.withLockedValue { $0[call.id] = call }
        activeGauge.record(activeCallCount)
        call.onEnd { [weak self] call in self?.callEnded(call) }

        logger.info(
            "incoming call",
            metadata: [
                "call": "\(call.id)", "from": "\(call.callerNumber)", "to": "\(call.calledNumber)",
                "sip-call-id": "\(session.callID)", "flow": "\(session.flow)", "codec": "\(negotiated.codec)",
            ].merging(metadata) { a, _ in a })

        let parameters = Leg.parameters(negotiated, noMediaTimeout: settings.noMediaTimeout.map { .milliseconds($0.milliseconds) },
                                        consumesKeys: true)
        media.openSession(parameters: parameters, onEvent: { [weak call] event in call?.mediaEvent(event) })
            .whenComplete { [logger] result in
                switch result {
                case .success(let rtp):
                    let leg = Leg(
                        sip: session, rtp: rtp, party: session.callerNumber, localAddress: self.media.address,
                        sessionID: sessionID, noMediaTimeout: parameters.noMediaTimeout, consumesKeys: true)
                    let answer: SessionDescription
                    do {
                        answer = try OfferAnswer.answer(
                            offer: offer, localAddress: self.media.address, localPort: rtp.localPort,
                            sessionID: sessionID, sessionVersion: sessionID, supported: self.settings.codecs
                        ).answer
                    } catch {
                        rtp.close(cause: .rejected)
                        call.end(.signallingFailure)
                        return
                    }
                    guard call.attach(rtp, leg: leg, answerSDP: Array(answer.serialize().utf8)) else {   // cancelled meanwhile
                        rtp.close(cause: call.endCause ?? .callerHangup)
                        return
                    }
                    // The dialplan runs from here, before the answer: it answers when it wants.
                    Task { await run(call) }
                case .failure(let error):
                    logger.error("no media for call", metadata: ["call": "\(call.id)", "error": "\(error)"])
                    call.setFinalStatus(503)
                    session.reject(statusCode: 503, reason: "Service Unavailable", headers: [SIPHeader(name: "Retry-After", value: "5")])
                    call.end(.rejected)
                }
            }
    }

    /// A registered phone called something that is not one of our lines: a back-to-back call to
    /// that extension (or out through the trunk), media anchored here.
    private func connectExtensionCall(_ session: InviteServerSession, from user: String, originator: Originator) {
        let called = session.calledNumber
        guard let offer = try? SessionDescription.parse(String(decoding: session.request.body, as: UTF8.self)),
            !session.request.body.isEmpty
        else {
            session.reject(statusCode: 488, reason: "Not Acceptable Here",
                           headers: [SIPHeader(name: "Warning", value: "399 hotline \"an SDP offer is required\"")])
            return
        }
        let call = BridgedCall(id: .random(), caller: user, called: called, originator: originator, media: media, events: events,
                               recording: settings.recording, logger: logger)
        call.emit(CallEventType.received, receivedData(session, language: nil).merging(["caller": .string(user)]) { _, new in new })
        bridgedCalls.withLockedValue { $0[call.id] = call }
        activeGauge.record(activeCallCount)
        call.onEnd { [weak self] call in self?.bridgedCallEnded(call) }
        // Agents on a direct call are offered only calls of `ring-in-use` queues meanwhile.
        if let queues = services.queues {
            let seats = [user, called]
            Task { await queues.directCall(seats: seats, started: true) }
            call.onEnd { _ in Task { await queues.directCall(seats: seats, started: false) } }
        }
        session.setEventHandler { [weak call] event in
            // Until the callee answers, the caller's leg is watched here (CANCEL, failures).
            switch event {
            case .cancelled: call?.end(.cancelled)
            case .transportFailure: call?.end(.signallingFailure)
            default: break
            }
        }
        var rng = SystemRandomNumberGenerator()
        let sessionID = UInt64.random(in: 1...UInt64(Int64.max), using: &rng)
        let noMediaTimeout: TimeAmount? = settings.noMediaTimeout.map { .milliseconds($0.milliseconds) }
        media.openSession(parameters: RTPSessionParameters(codec: .pcmu, payloadType: 0, telephoneEventPayloadType: nil, remote: nil, noMediaTimeout: nil)) { _ in }
            .whenComplete { [media, logger] result in
                switch result {
                case .success(let rtp):
                    guard call.endCause == nil,
                        let (answer, negotiated) = try? OfferAnswer.answer(
                            offer: offer, localAddress: media.address, localPort: rtp.localPort, sessionID: sessionID, sessionVersion: sessionID,
                            supported: self.settings.codecs)
                    else {
                        rtp.close(cause: .rejected)
                        session.reject(statusCode: 488, reason: "Not Acceptable Here")
                        call.end(.rejected)
                        return
                    }
                    rtp.update(parameters: Leg.parameters(negotiated, noMediaTimeout: noMediaTimeout))
                    let leg = Leg(sip: session, rtp: rtp, party: user, localAddress: media.address, sessionID: sessionID, noMediaTimeout: noMediaTimeout)
                    call.connect(caller: session, leg: leg, codec: negotiated.codec,
                                 answerSDP: Array(answer.serialize().utf8))
                case .failure(let error):
                    logger.error("no media for call", metadata: ["call": "\(call.id)", "error": "\(error)"])
                    session.reject(statusCode: 503, reason: "Service Unavailable", headers: [SIPHeader(name: "Retry-After", value: "5")])
                    call.end(.rejected)
                }
            }
    }

    private func bridgedCallEnded(_ call: BridgedCall) {
        bridgedCalls.withLockedValue { _ = $0.removeValue(forKey: call.id) }
        activeGauge.record(activeCallCount)
        let cause = call.endCause ?? .normalClearing
        count(cause.rawValue)
        let finish: @Sendable (RTPStatistics?) -> Void = { [logger] stats in
            self.closeRecording(call.recording, rtp: nil, emit: call.emit) {
                call.emit(CallEventType.ended, call.detailRecord(media: stats))
                logger.info("call ended", metadata: ["call": "\(call.id)", "cause": "\(cause.rawValue)"])
            }
        }
        if let rtp = call.callerRTP {
            rtp.readStatistics().whenComplete { result in finish(try? result.get()) }
        } else {
            finish(nil)
        }
    }

    /// `hotline.recording.completed` for recordings repaired after a crash (see `CallRecording`).
    public static func repairedRecordingEvents(_ repaired: [RecordingMetadata]) -> [CallEvent] {
        CallRecording.repairedEvents(repaired)
    }

    /// Closes a call's recording off the call path and emits `hotline.recording.completed`,
    /// then runs `then` (which emits `hotline.call.ended`: the last event of a call).
    private func closeRecording(_ recording: Result<CallRecording, RecordingError>?, rtp: RTPSession?,
                                emit: @escaping @Sendable (String, [String: JSONValue]) -> Void,
                                then: @escaping @Sendable () -> Void) {
        switch recording {
        case nil:
            then()
        case .failure(let error)?:
            if let settings = settings.recording {
                emit(CallEventType.recordingCompleted, CallRecording.failureData(error, settings: settings))
            }
            then()
        case .success(let recording)?:
            recordingsClosing.withLockedValue { $0 += 1 }
            Task { [recordingsClosing] in
                emit(CallEventType.recordingCompleted, await recording.finish(rtp: rtp))
                then()
                recordingsClosing.withLockedValue { $0 -= 1 }
            }
        }
    }

    private func callEnded(_ call: Call) {
        calls.withLockedValue { _ = $0.removeValue(forKey: call.id) }
        activeGauge.record(activeCallCount)
        let cause = call.endCause ?? .normalClearing
        count(cause.rawValue)
        let finish: @Sendable (RTPStatistics?) -> Void = { [logger] stats in
            let record = call.detailRecord(media: stats)
            self.closeRecording(call.recording, rtp: call.rtp, emit: call.emit) {
                call.emit(CallEventType.ended, record)
                call.lastEventEmitted()
            }
            var metadata: Logger.Metadata = ["call": "\(call.id)"]
            for key in ["cause", "durationMs", "talkMs", "sipStatus"] { metadata[key] = "\(record[key].map(Self.plain) ?? "-")" }
            if let stats {
                metadata["rtp-sent"] = "\(stats.packetsSent)"
                metadata["rtp-received"] = "\(stats.packetsReceived)"
                metadata["keys"] = "\(stats.digitsReceived)"
            }
            logger.info("call ended", metadata: metadata)
        }
        if let rtp = call.rtp {
            rtp.readStatistics().whenComplete { result in finish(try? result.get()) }
        } else {
            finish(nil)
        }
    }

    private static func plain(_ value: JSONValue) -> String {
        switch value {
        case .null: return "-"
        case .bool(let b): return "\(b)"
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .string(let s): return s
        case .array, .object: return "…"
        }
    }

    /// Graceful shutdown: waits for live calls to end, up to `timeout`, then hangs up the rest.
    public func drain(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while activeCallCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let remaining = activeCalls
        if !remaining.isEmpty {
            logger.notice("drain timeout: hanging up calls", metadata: ["calls": "\(remaining.count)"])
        }
        // BYE every remaining call; wait briefly for the answers, not for a dead peer's
        // Timer F (32 s).
        for call in remaining {
            Task { await call.hangup(cause: .shutdown) }
        }
        for call in bridgedCalls.withLockedValue({ Array($0.values) }) {
            Task { await call.hangup(cause: .shutdown) }
        }
        let byeDeadline = ContinuousClock.now + .seconds(3)
        while activeCallCount > 0, ContinuousClock.now < byeDeadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        // Recordings are closed and hashed after their calls: let them finish too.
        let recordingDeadline = ContinuousClock.now + .seconds(10)
        while recordingsClosing.withLockedValue({ $0 }) > 0, ContinuousClock.now < recordingDeadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
