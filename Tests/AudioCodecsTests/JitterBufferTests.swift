import XCTest
import AudioCodecs

final class JitterBufferTests: XCTestCase {
    /// One RTP packet of a simulated 8 kHz, 20 ms stream; the payload is `index`.
    private struct Packet {
        var index: Int
        var sequence: UInt16
        var timestamp: UInt32
        var arrival: UInt64
        var ssrc: UInt32? = nil
    }

    private static let start: UInt64 = 10_000

    /// `count` packets sent every 20 ms, arriving `extraDelay(i)` ms after their nominal time.
    private func stream(
        count: Int, firstIndex: Int = 0, firstSequence: UInt16 = 1_000, firstTimestamp: UInt32 = 50_000,
        sendStart: UInt64 = start, extraDelay: (Int) -> UInt64 = { _ in 0 }
    ) -> [Packet] {
        (0..<count).map { i in
            Packet(index: firstIndex + i,
                   sequence: firstSequence &+ UInt16(truncatingIfNeeded: i),
                   timestamp: firstTimestamp &+ UInt32(truncatingIfNeeded: i * 160),
                   arrival: sendStart + UInt64(i * 20) + extraDelay(i))
        }
    }

    /// Pops every 20 ms (5 ms after the send grid) for `ticks` slots, inserting
    /// before each pop every packet that has arrived by then.
    private func run(
        _ buffer: inout JitterBuffer<Int>, _ packets: [Packet], ticks: Int,
        observe: (Int, JitterBuffer<Int>) -> Void = { _, _ in }
    ) -> [JitterBufferOutput<Int>] {
        let ordered = packets.enumerated().sorted { ($0.element.arrival, $0.offset) < ($1.element.arrival, $1.offset) }
            .map(\.element)
        var next = 0
        var outputs: [JitterBufferOutput<Int>] = []
        for tick in 0..<ticks {
            let now = Self.start + 5 + UInt64(tick * 20)
            while next < ordered.count && ordered[next].arrival <= now {
                let packet = ordered[next]
                buffer.insert(sequence: packet.sequence, timestamp: packet.timestamp, payload: packet.index,
                              arrival: packet.arrival, ssrc: packet.ssrc)
                next += 1
            }
            outputs.append(buffer.pop(now: now))
            observe(tick, buffer)
        }
        return outputs
    }

    private func frames(_ outputs: [JitterBufferOutput<Int>]) -> [Int] {
        outputs.compactMap { if case .frame(let index) = $0 { index } else { nil } }
    }

    /// Outputs strictly between the first and the last frame.
    private func middle(_ outputs: [JitterBufferOutput<Int>]) -> ArraySlice<JitterBufferOutput<Int>> {
        let isFrame: (JitterBufferOutput<Int>) -> Bool = { if case .frame = $0 { true } else { false } }
        guard let first = outputs.firstIndex(where: isFrame), let last = outputs.lastIndex(where: isFrame) else {
            return []
        }
        return outputs[first...last]
    }

    /// A fixed 60 ms delay, so that logic tests do not depend on adaptation.
    private func fixedDelayBuffer(capacity: Int = 32) -> JitterBuffer<Int> {
        JitterBuffer(configuration: .init(clockRate: 8_000, minDelayMs: 60, maxDelayMs: 60, initialDelayMs: 60,
                                          capacity: capacity))
    }

    func testEmptyBeforeTheFirstPacketAndWhilePrebuffering() {
        var buffer = JitterBuffer<Int>(clockRate: 8_000)
        XCTAssertEqual(buffer.pop(now: 1_000), .empty)
        buffer.insert(sequence: 1, timestamp: 160, payload: 7, arrival: 1_000)
        XCTAssertEqual(buffer.pop(now: 1_020), .empty, "pre-buffering the initial 60 ms")
        XCTAssertEqual(buffer.pop(now: 1_040), .empty)
        XCTAssertEqual(buffer.pop(now: 1_060), .frame(7))
        XCTAssertEqual(buffer.statistics.played, 1)
        XCTAssertEqual(buffer.statistics.concealed, 0)
    }

    func testInOrderStreamPlaysEveryFrameInOrder() {
        var buffer = fixedDelayBuffer()
        let outputs = run(&buffer, stream(count: 150), ticks: 180)
        XCTAssertEqual(frames(outputs), Array(0..<150))
        XCTAssertFalse(middle(outputs).contains(.missing))
        XCTAssertEqual(outputs.prefix(3), [.empty, .empty, .empty], "pre-buffering")
        // After the stream stops: a few concealed slots, then idle.
        XCTAssertEqual(outputs.last, .empty)
        let stats = buffer.statistics
        XCTAssertEqual(stats.played, 150)
        XCTAssertEqual(stats.late, 0)
        XCTAssertEqual(stats.duplicates, 0)
        XCTAssertLessThanOrEqual(stats.concealed, 16)
    }

    func testReorderedPacketsComeOutInOrder() {
        var buffer = fixedDelayBuffer()
        // Every tenth packet arrives 25 ms late, after its successor.
        let packets = stream(count: 100) { $0 % 10 == 5 ? 25 : 0 }
        let outputs = run(&buffer, packets, ticks: 110)
        XCTAssertEqual(frames(outputs), Array(0..<100))
        XCTAssertFalse(middle(outputs).contains(.missing))
        XCTAssertEqual(buffer.statistics.late, 0)
    }

    func testLostPacketYieldsExactlyOneMissingSlot() {
        var buffer = fixedDelayBuffer()
        let packets = stream(count: 100).filter { $0.index != 40 }
        let outputs = Array(middle(run(&buffer, packets, ticks: 110)))
        XCTAssertEqual(frames(outputs), Array(0..<40) + Array(41..<100))
        let gap = outputs.firstIndex(of: .frame(39))!
        XCTAssertEqual(outputs[gap + 1], .missing)
        XCTAssertEqual(outputs[gap + 2], .frame(41))
        XCTAssertEqual(outputs.filter { $0 == .missing }.count, 1)
    }

    func testLatePacketIsDroppedAndCounted() {
        var buffer = fixedDelayBuffer()
        let packets = stream(count: 100) { $0 == 40 ? 300 : 0 }
        let outputs = Array(middle(run(&buffer, packets, ticks: 110)))
        XCTAssertEqual(frames(outputs), Array(0..<40) + Array(41..<100))
        XCTAssertEqual(outputs.filter { $0 == .missing }.count, 1)
        XCTAssertEqual(buffer.statistics.late, 1)
    }

    func testDuplicatesAreDroppedAndCounted() {
        var buffer = fixedDelayBuffer()
        var packets = stream(count: 100)
        packets.append(packets[20])  // duplicate while still buffered
        var replay = packets[10]
        replay.arrival = packets[60].arrival  // duplicate of a packet played long ago
        packets.append(replay)
        let outputs = run(&buffer, packets, ticks: 110)
        XCTAssertEqual(frames(outputs), Array(0..<100))
        XCTAssertEqual(buffer.statistics.duplicates, 2)
        XCTAssertEqual(buffer.statistics.late, 0)
    }

    func testSequenceAndTimestampWrapAround() {
        var buffer = fixedDelayBuffer()
        let packets = stream(count: 200, firstSequence: 65_500, firstTimestamp: UInt32.max - 160 * 30 + 1)
        let outputs = run(&buffer, packets, ticks: 210)
        XCTAssertEqual(frames(outputs), Array(0..<200))
        XCTAssertFalse(middle(outputs).contains(.missing))
        XCTAssertEqual(buffer.statistics.late, 0)
        XCTAssertEqual(buffer.statistics.resets, 0)
    }

    func testStoredPacketsAreBounded() {
        var buffer = fixedDelayBuffer(capacity: 32)
        for packet in stream(count: 100) {
            buffer.insert(sequence: packet.sequence, timestamp: packet.timestamp, payload: packet.index, arrival: 1_000)
        }
        XCTAssertEqual(buffer.count, 32)
        XCTAssertEqual(buffer.statistics.overflowDropped, 68)
        var played: [Int] = []
        for tick in 0..<40 {
            if case .frame(let index) = buffer.pop(now: 1_000 + UInt64(tick * 20)) { played.append(index) }
        }
        // The newest 32 remain; the burst's excess delay is trimmed by skipping frames.
        XCTAssertEqual(played.first, 68)
        XCTAssertEqual(played, played.sorted())
        XCTAssertEqual(played.count + buffer.statistics.discarded, 32)
    }

    func testDelayGrowsUnderJitterAndShrinksAfterwards() {
        var buffer = JitterBuffer<Int>(clockRate: 8_000)  // 20...200 ms, starts at 60 ms
        XCTAssertEqual(buffer.targetDelayMs, 60)
        var random = TestRandom(seed: 2024)
        let jitter = (0..<300).map { _ in UInt64.random(in: 0...100, using: &random) }
        // 4 s steady, 6 s with 0–100 ms jitter, 20 s steady.
        let packets = stream(count: 1_500) { (200..<500).contains($0) ? jitter[$0 - 200] : 0 }
        var snapshots: [Int: JitterBufferStatistics] = [:]
        var maxTarget = 0
        var lateBeforeJitter = 0
        let outputs = run(&buffer, packets, ticks: 1_510) { tick, buffer in
            maxTarget = max(maxTarget, buffer.targetDelayMs)
            if [199, 499, 1_499].contains(tick) { snapshots[tick] = buffer.statistics }
            if tick == 199 { lateBeforeJitter = buffer.statistics.late }
        }
        let steady = snapshots[199]!
        XCTAssertEqual(steady.targetDelayMs, 20, "no jitter: minimum delay")
        XCTAssertLessThan(steady.currentDelayMs, 40, "initial 60 ms shrunk towards the target")
        XCTAssertEqual(lateBeforeJitter, 0)

        let jittery = snapshots[499]!
        XCTAssertGreaterThanOrEqual(jittery.targetDelayMs, 80, "target covers most of the 0–100 ms jitter")
        XCTAssertGreaterThanOrEqual(jittery.currentDelayMs, 70, "playout delay followed the target")
        XCTAssertLessThan(jittery.late, 300 / 10, "fewer than 10 % of the jittery packets were late")

        let calm = snapshots[1_499]!
        XCTAssertEqual(calm.targetDelayMs, 20, "jitter gone: back to the minimum")
        XCTAssertLessThan(calm.currentDelayMs, 40)
        XCTAssertLessThanOrEqual(maxTarget, 200)
        XCTAssertEqual(calm.late - jittery.late, 0, "nothing late once calm")
        XCTAssertGreaterThan(calm.discarded, 0)
        // Every packet is accounted for exactly once.
        let played = frames(outputs)
        XCTAssertEqual(played, played.sorted())
        XCTAssertEqual(Set(played).count, played.count)
        XCTAssertEqual(played.count + calm.discarded + calm.late, 1_500)
    }

    func testBigSequenceJumpRestartsTheStream() {
        var buffer = fixedDelayBuffer()
        let first = stream(count: 50)
        let second = stream(count: 50, firstIndex: 100, firstSequence: 40_000, firstTimestamp: 9_000_000,
                            sendStart: Self.start + 1_200)
        let outputs = run(&buffer, first + second, ticks: 120)
        XCTAssertEqual(frames(outputs), Array(0..<50) + Array(100..<150))
        XCTAssertEqual(buffer.statistics.resets, 1)
        XCTAssertEqual(buffer.statistics.late, 0)
    }

    func testSingleStrayPacketDoesNotRestartTheStream() {
        var buffer = fixedDelayBuffer()
        var packets = stream(count: 100)
        packets.append(Packet(index: 999, sequence: 30_000, timestamp: 123, arrival: packets[50].arrival))
        let outputs = run(&buffer, packets, ticks: 110)
        XCTAssertEqual(frames(outputs), Array(0..<100))
        XCTAssertEqual(buffer.statistics.resets, 0)
        XCTAssertEqual(buffer.statistics.outOfRange, 1)
    }

    func testSSRCChangeRestartsTheStream() {
        var buffer = fixedDelayBuffer()
        var packets = stream(count: 40)
        for i in packets.indices { packets[i].ssrc = 0xAAAA }
        var second = stream(count: 40, firstIndex: 100, firstSequence: 1_010, firstTimestamp: 70_000,
                            sendStart: Self.start + 1_000)
        for i in second.indices { second[i].ssrc = 0xBBBB }
        let outputs = run(&buffer, packets + second, ticks: 110)
        XCTAssertEqual(buffer.statistics.resets, 1)
        XCTAssertEqual(frames(outputs), Array(0..<40) + Array(100..<140))
    }

    func testTimestampJumpWithoutElapsedTimeRestartsTheStream() {
        var buffer = fixedDelayBuffer()
        // Same sequence space, but the timestamps jump 10 s ahead of real time.
        let first = stream(count: 40)
        let second = stream(count: 40, firstIndex: 100, firstSequence: 1_040, firstTimestamp: 50_000 + 50 * 160 + 80_000,
                            sendStart: Self.start + 1_000)
        let outputs = run(&buffer, first + second, ticks: 110)
        XCTAssertEqual(buffer.statistics.resets, 1)
        XCTAssertEqual(frames(outputs), Array(0..<40) + Array(100..<140))
    }

    func testIdleStreamReportsEmptyAndResumes() {
        var buffer = fixedDelayBuffer()
        // 1 s of audio, 2 s of silence (DTX: sequence continues, timestamps jump), 1 s more.
        let first = stream(count: 50)
        let second = stream(count: 50, firstIndex: 50, firstSequence: 1_050, firstTimestamp: 50_000 + 150 * 160,
                            sendStart: Self.start + 3_000)
        let outputs = run(&buffer, first + second, ticks: 220)
        XCTAssertEqual(frames(outputs), Array(0..<100))
        let lastOfFirst = outputs.firstIndex(of: .frame(49))!
        let firstOfSecond = outputs.firstIndex(of: .frame(50))!
        let gap = outputs[(lastOfFirst + 1)..<firstOfSecond]
        // Frame 49 arrives at +980 ms and plays at +1045 ms; the slots from
        // +1065 to +1265 ms are concealed, and from lastArrival + 300 ms = +1280 ms it is idle.
        XCTAssertEqual(gap.filter { $0 == .missing }.count, 11, "concealed until the 300 ms idle timeout")
        XCTAssertTrue(gap.suffix(50).allSatisfy { $0 == .empty })
        XCTAssertEqual(buffer.statistics.late, 0)
        XCTAssertEqual(buffer.statistics.resets, 0)
    }

    func testResetForgetsTheStreamButKeepsCounters() {
        var buffer = fixedDelayBuffer()
        _ = run(&buffer, stream(count: 20), ticks: 15)
        let played = buffer.statistics.played
        XCTAssertGreaterThan(buffer.count, 0)
        buffer.reset()
        XCTAssertEqual(buffer.count, 0)
        XCTAssertEqual(buffer.pop(now: 99_999), .empty)
        XCTAssertEqual(buffer.statistics.played, played)
        XCTAssertEqual(buffer.statistics.resets, 1)
        // An old sequence number is accepted again after the reset.
        buffer.insert(sequence: 1_000, timestamp: 50_000, payload: 0, arrival: 100_000)
        XCTAssertEqual(buffer.pop(now: 100_060), .frame(0))
    }
}
