import AudioCodecs
import Foundation
import HotlineCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RTP
import Recording
import XCTest

@testable import Media

/// The decoded media paths against real sockets: codecs other than G.711 (prompts, transcoded
/// bridges), in-band keys, the stereo recording tap, and RTCP. Audio is checked by tone
/// frequency, so codec delay and resampling do not matter.
final class MediaPathTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var engine: MediaEngine!
    private var peers: [(Channel, DatagramCollector)] = []
    private let tone440 = PromptLibrary.encode(name: "tone", language: "en-US", samples: tone(440, seconds: 1))

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        engine = MediaEngine(group: group, address: "127.0.0.1", portRange: 32_000...32_200,
                             prompts: PromptLibrary([tone440]), logger: Logger(label: "test"))
    }

    override func tearDown() async throws {
        for (c, _) in peers { try? await c.close() }
        try await group.shutdownGracefully()
    }

    private func makePeer(port: Int = 0) async throws -> (Channel, DatagramCollector) {
        let handler = DatagramCollector()
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(handler) } }
            .bind(host: "127.0.0.1", port: port).get()
        peers.append((channel, handler))
        return (channel, handler)
    }

    private func open(_ codec: MediaCodec, pt: UInt8, to peer: Channel, te: UInt8? = 101, inband: Bool = false,
                      on loop: EventLoop? = nil) async throws -> RTPSession {
        let parameters = RTPSessionParameters(
            codec: codec, payloadType: pt, telephoneEventPayloadType: te, detectInbandKeys: inband,
            remote: peer.localAddress!, noMediaTimeout: nil)
        return try await engine.openSession(parameters: parameters, on: loop) { _ in }.get()
    }

    private func send(_ bytes: [UInt8], to port: Int, from channel: Channel) async throws {
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: channel.allocator.buffer(bytes: bytes)))
    }

    /// Sends `samples` as 20 ms PCMU packets, paced in real time.
    private func sendPCMU(_ samples: [Int16], to port: Int, from channel: Channel, firstSequence: UInt16 = 1) async throws {
        for (i, start) in stride(from: 0, to: samples.count - 159, by: 160).enumerated() {
            let payload = G711.encode(Array(samples[start..<(start + 160)]), law: .ulaw)
            try await send(rtp(pt: 0, seq: firstSequence &+ UInt16(i), ts: UInt32(start), payload: payload), to: port, from: channel)
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: Codecs

    func testOpusLegPlaysPromptsEncodedAsOpus() async throws {
        let (peer, received) = try await makePeer()
        let session = try await open(.opus, pt: 111, to: peer)
        session.start()
        let outcome = try await session.play([tone440], interruptible: false).get()
        XCTAssertEqual(outcome, .finished)
        try await Task.sleep(for: .milliseconds(100))   // the last packets in flight
        session.close(cause: .normalClearing)
        let packets = received.packets.withLockedValue { $0 }.filter { $0.count > 12 && $0[1] & 0x7F == 111 }
        XCTAssertGreaterThanOrEqual(packets.count, 50)
        for (prev, p) in zip(packets, packets.dropFirst()) {
            XCTAssertEqual(timestamp(p) &- timestamp(prev), 960, "Opus runs a 48 kHz RTP clock")
            XCTAssertEqual(sequence(p), sequence(prev) &+ 1)
        }
        let decoder = try OpusDecoder(sampleRate: 16000)
        var pcm: [Int16] = []
        for p in packets { _ = decoder.decode(Array(p[12...]), into: &pcm) }
        XCTAssertEqual(dominant(Array(pcm.dropFirst(3200)), rate: 16000, among: [440, 1000, 1300]), 440)
    }

    func testBridgeTranscodesPCMUToOpusAndCopiesSameCodecPayloads() async throws {
        let (peerA, _) = try await makePeer()
        let (peerB, receivedB) = try await makePeer()
        let a = try await open(.pcmu, pt: 0, to: peerA)
        let b = try await open(.opus, pt: 111, to: peerB, on: a.eventLoop)
        a.start()
        b.start()
        try await a.bridge(with: b).get()
        try await sendPCMU(tone(1000, seconds: 1.2), to: a.localPort, from: peerA)
        try await Task.sleep(for: .milliseconds(100))
        let stats = try await b.readStatistics().get()
        XCTAssertGreaterThanOrEqual(stats.packetsTranscoded, 55)
        let packets = receivedB.packets.withLockedValue { $0 }.filter { $0.count > 12 && $0[1] & 0x7F == 111 }
        let decoder = try OpusDecoder(sampleRate: 16000)
        var pcm: [Int16] = []
        for p in packets { _ = decoder.decode(Array(p[12...]), into: &pcm) }
        XCTAssertEqual(dominant(Array(pcm.dropFirst(3200)), rate: 16000, among: [440, 1000, 1300]), 1000)
        a.close(cause: .normalClearing)
        b.close(cause: .normalClearing)
    }

    func testSameCodecBridgeRelaysPayloadBytesUnchanged() async throws {
        let (peerA, _) = try await makePeer()
        let (peerB, receivedB) = try await makePeer()
        let a = try await open(.pcmu, pt: 0, to: peerA)
        let b = try await open(.pcmu, pt: 0, to: peerB, on: a.eventLoop)
        a.start()
        b.start()
        try await a.bridge(with: b).get()
        let samples = tone(1000, seconds: 0.2)
        try await sendPCMU(samples, to: a.localPort, from: peerA)
        try await Task.sleep(for: .milliseconds(100))
        let payloads = receivedB.packets.withLockedValue { $0 }.filter { $0.count == 172 }.map { Array($0[12...]) }
        XCTAssertTrue(payloads.contains(G711.encode(Array(samples[0..<160]), law: .ulaw)), "relayed without decoding")
        let stats = try await b.readStatistics().get()
        XCTAssertEqual(stats.packetsTranscoded, 0)
        a.close(cause: .normalClearing)
        b.close(cause: .normalClearing)
    }

    // MARK: Keys

    func testInbandKeysAreDetectedOnce() async throws {
        let (peer, _) = try await makePeer()
        let session = try await open(.pcmu, pt: 0, to: peer, te: nil, inband: true)
        session.start()
        try await sendPCMU(silence(0.3) + dtmf("5") + silence(0.3) + dtmf("#") + silence(0.3), to: session.localPort, from: peer)
        let first = try await session.collectDigit(timeout: .milliseconds(500)).get()
        let second = try await session.collectDigit(timeout: .milliseconds(500)).get()
        let none = try await session.collectDigit(timeout: .milliseconds(300)).get()
        XCTAssertEqual(first, "5")
        XCTAssertEqual(second, "#")
        XCTAssertNil(none)
        let stats = try await session.readStatistics().get()
        XCTAssertEqual(stats.inbandDigitsReceived, 2)
        session.close(cause: .normalClearing)
    }

    func testAKeySentAsEventsAndAsTonesIsOneKey() async throws {
        let (peer, _) = try await makePeer()
        let session = try await open(.pcmu, pt: 0, to: peer, te: 101, inband: true)
        session.start()
        // RFC 4733 events for 5, then the same key's tones in the audio (a gateway sending both).
        for i in 0..<4 {
            let end = i == 3
            let payload: [UInt8] = [5, (end ? 0x80 : 0) | 10, 0, UInt8(160 * (i + 1) & 0xFF)]
            try await send(rtp(pt: 101, seq: UInt16(1 + i), ts: 0, marker: i == 0, payload: payload), to: session.localPort, from: peer)
        }
        try await sendPCMU(dtmf("5") + silence(0.3), to: session.localPort, from: peer, firstSequence: 5)
        let first = try await session.collectDigit(timeout: .milliseconds(500)).get()
        let none = try await session.collectDigit(timeout: .milliseconds(400)).get()
        XCTAssertEqual(first, "5")
        XCTAssertNil(none, "the tones of a key already reported by RFC 4733 are not a second key")
        let stats = try await session.readStatistics().get()
        XCTAssertEqual(stats.digitsReceived, 1)
        XCTAssertEqual(stats.duplicateDigitsSuppressed, 1)
        session.close(cause: .normalClearing)
    }

    // MARK: Recording

    func testRecordingTapPutsThePartyLeftAndWhatItHearsRight() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-tap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recorder = try CallRecorder(
            callID: "tap-test", settings: RecordingSettings(directory: directory, format: .wav, sampleRate: 8000),
            startedAt: Date(), logger: Logger(label: "test"))
        let (peer, _) = try await makePeer()
        let session = try await open(.pcmu, pt: 0, to: peer)
        session.start()
        try await session.startRecording(recorder).get()
        let playback = session.play([tone440], interruptible: false)
        try await sendPCMU(tone(1000, seconds: 1), to: session.localPort, from: peer)
        _ = try await playback.get()
        let stopped = try await session.stopRecording().get()
        XCTAssertTrue(stopped === recorder)
        session.close(cause: .normalClearing)
        let metadata = await recorder.finish()
        XCTAssertTrue(metadata.complete, metadata.failure ?? "")
        let wav = try WAVFile.read(contentsOf: metadata.path)
        XCTAssertEqual(wav.channels, 2)
        let left = stride(from: 0, to: wav.samples.count, by: 2).map { wav.samples[$0] }
        let right = stride(from: 1, to: wav.samples.count, by: 2).map { wav.samples[$0] }
        XCTAssertGreaterThan(left.count, 6000)
        XCTAssertEqual(dominant(Array(left.dropFirst(1600)), rate: 8000, among: [440, 1000]), 1000, "the party, left")
        XCTAssertEqual(dominant(Array(right.dropFirst(800)), rate: 8000, among: [440, 1000]), 440, "what it heard, right")
    }

    // MARK: RTCP

    func testSenderReportsGoToRTCPPortAndReceiverReportsGiveRoundTrip() async throws {
        let (peer, _) = try await makePeer()
        let rtcpPort = peer.localAddress!.port! + 1
        let (peerRTCP, rtcpReceived) = try await makePeer(port: rtcpPort)
        let session = try await open(.pcmu, pt: 0, to: peer)
        session.start()
        try await sendPCMU(tone(1000, seconds: 0.2), to: session.localPort, from: peer)
        // The first report comes 1.25–3.75 s after the start (RFC 3550 §6.2, halved initial).
        let deadline = ContinuousClock.now + .seconds(5)
        var report: RTCPSenderReport?
        while report == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            for bytes in rtcpReceived.packets.withLockedValue({ $0 }) {
                for case .senderReport(let sr) in (try? RTCPPacket.parseCompound(bytes)) ?? [] { report = sr }
            }
        }
        let sr = try XCTUnwrap(report, "no sender report on RTP port + 1")
        XCTAssertEqual(sr.reportBlocks.first?.ssrc, 0x1234_5678, "reports on the peer's stream")
        // Our receiver report about that SR, answered 10 ms later.
        let block = RTCPReportBlock(
            ssrc: sr.ssrc, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 1, jitter: 0,
            lastSenderReport: sr.ntpTimestamp.compact, delaySinceLastSenderReport: 655)   // 10 ms in 1/65536 s
        let rr = RTCPPacket.compound([.receiverReport(RTCPReceiverReport(ssrc: 0x1234_5678, reportBlocks: [block]))])
        // At least the claimed 10 ms after the SR (it may have arrived just before the poll
        // read it): a DLSR longer than the real round trip is discarded as bogus.
        try await Task.sleep(for: .milliseconds(20))
        try await send(rr, to: session.localPort + 1, from: peerRTCP)
        try await Task.sleep(for: .milliseconds(100))
        let stats = try await session.readStatistics().get()
        XCTAssertEqual(stats.rtcpReceived, 1)
        let rtt = try XCTUnwrap(stats.roundTripMs)
        XCTAssertGreaterThanOrEqual(rtt, 0)
        XCTAssertLessThan(rtt, 5_000)
        // Hostile RTCP is dropped and counted.
        try await send([0x80, 0xC9, 0x00, 0x40], to: session.localPort + 1, from: peerRTCP)
        try await Task.sleep(for: .milliseconds(50))
        let after = try await session.readStatistics().get()
        XCTAssertEqual(after.rtcpDropped, 1)
        session.close(cause: .normalClearing)
    }
}

// MARK: Signals

private func tone(_ hz: Double, seconds: Double, rate: Double = 8000) -> [Int16] {
    (0..<Int(seconds * rate)).map { Int16(9000 * sin(2 * .pi * hz * Double($0) / rate)) }
}

private func silence(_ seconds: Double) -> [Int16] { [Int16](repeating: 0, count: Int(seconds * 8000)) }

/// A key's ITU-T Q.23 dual tone, 100 ms.
private func dtmf(_ key: Character) -> [Int16] {
    let rows: [Character: (Double, Double)] = ["5": (770, 1336), "#": (941, 1477), "1": (697, 1209)]
    let (low, high) = rows[key]!
    return (0..<800).map { i in
        let t = Double(i) / 8000
        return Int16(7000 * (sin(2 * .pi * low * t) + sin(2 * .pi * high * t)))
    }
}

private func goertzel(_ samples: [Int16], rate: Double, hz: Double) -> Double {
    let k = 2 * cos(2 * .pi * hz / rate)
    var s1 = 0.0, s2 = 0.0
    for x in samples {
        let s0 = Double(x) + k * s1 - s2
        s2 = s1
        s1 = s0
    }
    return s1 * s1 + s2 * s2 - k * s1 * s2
}

private func dominant(_ samples: [Int16], rate: Double, among candidates: [Double]) -> Double {
    candidates.max { goertzel(samples, rate: rate, hz: $0) < goertzel(samples, rate: rate, hz: $1) }!
}

private func rtp(pt: UInt8, seq: UInt16, ts: UInt32, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
    var header = [UInt8](repeating: 0, count: 12)
    header[0] = 0x80
    header[1] = (marker ? 0x80 : 0) | pt
    header[2] = UInt8(seq >> 8)
    header[3] = UInt8(seq & 0xFF)
    for i in 0..<4 { header[4 + i] = UInt8((ts >> (24 - 8 * UInt32(i))) & 0xFF) }
    header[8] = 0x12; header[9] = 0x34; header[10] = 0x56; header[11] = 0x78
    return header + payload
}

private func sequence(_ p: [UInt8]) -> UInt16 { UInt16(p[2]) << 8 | UInt16(p[3]) }
private func timestamp(_ p: [UInt8]) -> UInt32 { p[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
