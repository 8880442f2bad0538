import HotlineCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

@testable import Media

/// The RTP session against a real UDP peer on 127.0.0.1: what goes on the wire and what
/// comes back in. No timing is asserted here (pacing is measured by `make bench`).
final class RTPSessionTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var peer: Channel!
    private var collector: DatagramCollector!
    private var engine: MediaEngine!
    private let prompt = PromptLibrary.encode(
        name: "tone", language: "en-US",
        samples: (0..<4_000).map { Int16(8_000 * sin(Double($0) * 2 * .pi * 440 / 8_000)) })   // 0.5 s

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        collector = DatagramCollector()
        let c = collector!
        peer = try await DatagramBootstrap(group: group)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(c) } }
            .bind(host: "127.0.0.1", port: 0).get()
        engine = MediaEngine(
            group: group, address: "127.0.0.1", portRange: 31_000...31_100,
            prompts: PromptLibrary([prompt]), logger: Logger(label: "test"))
    }

    override func tearDown() async throws {
        try? await peer.close()
        try await group.shutdownGracefully()
    }

    private func openSession(noMediaTimeout: TimeAmount? = nil, onEvent: @escaping @Sendable (MediaEvent) -> Void = { _ in }) async throws -> RTPSession {
        let parameters = RTPSessionParameters(
            codec: .pcmu, payloadType: 0, telephoneEventPayloadType: 101, remote: peer.localAddress!,
            noMediaTimeout: noMediaTimeout)
        return try await engine.openSession(parameters: parameters, onEvent: onEvent).get()
    }

    private func send(_ bytes: [UInt8], to port: Int, from channel: Channel) async throws {
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: channel.allocator.buffer(bytes: bytes)))
    }

    private func rtpPacket(pt: UInt8, seq: UInt16, ts: UInt32, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 12)
        header[0] = 0x80
        header[1] = (marker ? 0x80 : 0) | pt
        header[2] = UInt8(seq >> 8); header[3] = UInt8(seq & 0xFF)
        for i in 0..<4 { header[4 + i] = UInt8((ts >> (24 - 8 * UInt32(i))) & 0xFF) }
        header[8] = 0x12; header[9] = 0x34; header[10] = 0x56; header[11] = 0x78
        return header + payload
    }

    func testPlaybackPacketsHaveContinuousHeadersAndThePromptsBytes() async throws {
        let session = try await openSession()
        session.start()
        let outcome = try await session.play([prompt], interruptible: false).get()
        XCTAssertEqual(outcome, .finished)
        try await Task.sleep(for: .milliseconds(100))
        session.close(cause: .normalClearing)

        let packets = collector.packets.withLockedValue { $0 }
        XCTAssertGreaterThanOrEqual(packets.count, prompt.frameCount)
        let ssrc = Array(packets[0][8..<12])
        for (i, p) in packets.enumerated() {
            XCTAssertEqual(p.count, 172)
            XCTAssertEqual(p[0], 0x80)
            XCTAssertEqual(p[1] & 0x7F, 0, "payload type PCMU")
            XCTAssertEqual(p[1] & 0x80 != 0, i == 0, "marker bit on the first packet only")
            XCTAssertEqual(Array(p[8..<12]), ssrc)
            if i > 0 {
                let prev = packets[i - 1]
                let seq = UInt16(p[2]) << 8 | UInt16(p[3])
                let prevSeq = UInt16(prev[2]) << 8 | UInt16(prev[3])
                XCTAssertEqual(seq, prevSeq &+ 1)
                let ts = p[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let prevTs = prev[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                XCTAssertEqual(ts, prevTs &+ 160)
            }
        }
        // The prompt's frames appear, in order, in consecutive packets.
        let payloads = packets.map { Array($0[12...]) }
        let firstFrame = Array(prompt.pcmu[0..<160])
        guard let start = payloads.firstIndex(of: firstFrame) else { return XCTFail("prompt audio not found in the packets") }
        for f in 0..<prompt.frameCount {
            XCTAssertEqual(payloads[start + f], Array(prompt.pcmu[(f * 160)..<((f + 1) * 160)]), "frame \(f)")
        }
    }

    func testTelephoneEventsBecomeOneKeyAndInterruptPlayback() async throws {
        let session = try await openSession()
        session.start()
        let playback = session.play([prompt, prompt, prompt], interruptible: true)
        // Digit 5: three packets of the event, then three redundant end packets (RFC 4733 §2.5.1.4).
        for i in 0..<6 {
            let end = i >= 3
            let duration = UInt16(160 * min(i + 1, 3))
            let payload: [UInt8] = [5, (end ? 0x80 : 0) | 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]
            try await send(rtpPacket(pt: 101, seq: UInt16(100 + i), ts: 8_000, marker: i == 0, payload: payload), to: session.localPort, from: peer)
        }
        let outcome = try await playback.get()
        XCTAssertEqual(outcome, .interrupted(by: "5"))
        let digit = try await session.collectDigit(timeout: .milliseconds(500)).get()
        XCTAssertEqual(digit, "5")
        let none = try await session.collectDigit(timeout: .milliseconds(200)).get()
        XCTAssertNil(none, "redundant packets of the same event are not a second key")
        let stats = try await session.readStatistics().get()
        XCTAssertEqual(stats.digitsReceived, 1)
        XCTAssertEqual(stats.packetsReceived, 6)
        session.close(cause: .normalClearing)
    }

    func testLatchedSourceIgnoresInjectionAndMalformedPacketsAreCounted() async throws {
        let session = try await openSession()
        session.start()
        let intruder = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer { intruder.close(promise: nil) }

        try await send(rtpPacket(pt: 0, seq: 1, ts: 0, payload: [UInt8](repeating: 0xFF, count: 160)), to: session.localPort, from: peer)
        try await Task.sleep(for: .milliseconds(50))
        // A key from another address must not reach the call.
        try await send(rtpPacket(pt: 101, seq: 2, ts: 160, payload: [1, 0x8A, 0, 160]), to: session.localPort, from: intruder)
        try await send([0x80, 0x00, 0x01], to: session.localPort, from: peer)                        // short header
        try await send([0x40] + [UInt8](repeating: 0, count: 20), to: session.localPort, from: peer)  // version 1
        try await send(rtpPacket(pt: 18, seq: 3, ts: 320, payload: [0, 0]), to: session.localPort, from: peer)   // G.729: never negotiated
        try await Task.sleep(for: .milliseconds(100))

        let digit = try await session.collectDigit(timeout: .milliseconds(100)).get()
        XCTAssertNil(digit)
        let stats = try await session.readStatistics().get()
        XCTAssertEqual(stats.packetsReceived, 1)
        XCTAssertEqual(stats.foreignSourceDropped, 1)
        XCTAssertEqual(stats.malformedDropped, 2)
        XCTAssertEqual(stats.unknownPayloadTypeDropped, 1)
        session.close(cause: .normalClearing)
    }

    func testReceiverStatisticsCountLossFromSequenceNumbers() async throws {
        let session = try await openSession()
        session.start()
        // 20 packets with sequence numbers 100...119, of which 105 and 111 never arrive.
        for i in 0..<20 where i != 5 && i != 11 {
            try await send(rtpPacket(pt: 0, seq: UInt16(100 + i), ts: UInt32(160 * i), payload: [UInt8](repeating: 0xFF, count: 160)),
                           to: session.localPort, from: peer)
        }
        try await Task.sleep(for: .milliseconds(100))
        let stats = try await session.readStatistics().get()
        XCTAssertEqual(stats.packetsReceived, 18)
        XCTAssertEqual(stats.packetsLost, 2)
        XCTAssertGreaterThanOrEqual(stats.jitterMs, 0)
        session.close(cause: .normalClearing)
    }

    func testNoMediaTimeoutIsReportedAndCloseFailsPendingOperations() async throws {
        let fired = NIOLockedValueBox(false)
        let session = try await openSession(noMediaTimeout: .milliseconds(300)) { event in
            if event == .noMediaTimeout { fired.withLockedValue { $0 = true } }
        }
        session.start()
        let waiting = session.collectDigit(timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(1_500))
        XCTAssertTrue(fired.withLockedValue { $0 })
        session.close(cause: .mediaTimeout)
        do {
            _ = try await waiting.get()
            XCTFail("collectDigit should fail once the leg is closed")
        } catch let ended as CallEnded {
            XCTAssertEqual(ended.cause, .mediaTimeout)
        }
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(engine.sessionsInUse, 0, "the port goes back to the pool")
    }
}

import Foundation
