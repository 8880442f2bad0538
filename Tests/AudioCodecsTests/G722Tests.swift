import XCTest
import AudioCodecs

final class G722Tests: XCTestCase {
    private func roundTrip(_ input: [Int16]) -> (payloadSizes: [Int], decoded: [Int16], decoder: G722Decoder) {
        let encoder = G722Encoder()
        let decoder = G722Decoder()
        var sizes: [Int] = []
        var decoded: [Int16] = []
        for frame in TestSignals.frames(input, of: 320) {
            var payload: [UInt8] = []
            sizes.append(encoder.encode(frame, into: &payload))
            XCTAssertEqual(decoder.decode(payload, into: &decoded), payload.count * 2)
        }
        return (sizes, decoded, decoder)
    }

    func testToneRoundTripKeepsFrequencyAndLevel() {
        // 1 kHz lies in the lower sub-band, 6 kHz in the upper one (wideband).
        for frequency in [1_000.0, 6_000.0] {
            let input = TestSignals.sine(frequency: frequency, sampleRate: 16_000, count: 16_000)
            let (sizes, decoded, _) = roundTrip(input)
            XCTAssertEqual(Set(sizes), [160], "64 kbit/s: 160 bytes per 20 ms")
            XCTAssertEqual(decoded.count, input.count)
            let steady = decoded[1_600...]
            let tone = TestSignals.power(steady, frequency: frequency, sampleRate: 16_000)
            for other in [frequency / 2, frequency * 1.5, 3_000] where other != frequency {
                let leak = TestSignals.power(steady, frequency: other, sampleRate: 16_000)
                XCTAssertGreaterThan(TestSignals.decibels(tone / max(leak, 1e-9)), 25, "\(frequency) vs \(other) Hz")
            }
            let gain = TestSignals.rms(steady) / TestSignals.rms(input[1_600...])
            XCTAssertEqual(gain, 1, accuracy: 0.2, "\(frequency) Hz level")
        }
    }

    func testConcealContinuesTheToneThenFades() {
        let input = TestSignals.sine(frequency: 500, sampleRate: 16_000, count: 3_200)
        let (_, _, decoder) = roundTrip(input)
        var concealed: [Int16] = []
        decoder.conceal(samples: 320, into: &concealed)
        XCTAssertEqual(concealed.count, 320)
        let head = concealed[..<160]
        XCTAssertGreaterThan(TestSignals.rms(head), 2_000, "the gap is filled, not silent")
        let tone = TestSignals.power(head, frequency: 500, sampleRate: 16_000)
        let leak = TestSignals.power(head, frequency: 1_500, sampleRate: 16_000)
        XCTAssertGreaterThan(tone, 10 * leak)
        // A long gap fades to silence.
        var long: [Int16] = []
        decoder.conceal(samples: 1_600, into: &long)
        XCTAssertEqual(TestSignals.rms(long[800...]), 0)
    }

    func testInvalidInputProducesNothing() {
        let encoder = G722Encoder()
        var payload: [UInt8] = []
        XCTAssertEqual(encoder.encode([Int16](repeating: 0, count: 319), into: &payload), 0)
        XCTAssertEqual(encoder.encode([], into: &payload), 0)
        XCTAssertTrue(payload.isEmpty)
        var pcm: [Int16] = []
        XCTAssertEqual(G722Decoder().decode([], into: &pcm), 0)
        XCTAssertEqual(G722.rtpClockRate, 8_000)
        XCTAssertEqual(G722Encoder().sampleRate, 16_000)
    }
}
