import XCTest
import AudioCodecs

final class OpusTests: XCTestCase {
    /// Encodes `pcm` frame by frame and decodes every packet; returns packets and decoded PCM.
    private func roundTrip(
        _ pcm: [Int16], sampleRate: Int, configuration: OpusEncoder.Configuration = .init()
    ) throws -> (packets: [[UInt8]], decoded: [Int16]) {
        let encoder = try OpusEncoder(sampleRate: sampleRate, configuration: configuration)
        let decoder = try OpusDecoder(sampleRate: sampleRate)
        var packets: [[UInt8]] = []
        var decoded: [Int16] = []
        for frame in TestSignals.frames(pcm, of: sampleRate / 50) {
            var packet: [UInt8] = []
            let bytes = encoder.encode(frame, into: &packet)
            XCTAssertEqual(bytes, packet.count)
            packets.append(packet)
            let samples = decoder.decode(packet, into: &decoded)
            XCTAssertEqual(samples, sampleRate / 50)
        }
        return (packets, decoded)
    }

    func testSineRoundTripKeepsFrequencyAtEveryRate() throws {
        for sampleRate in [8_000, 16_000, 48_000] {
            let input = TestSignals.sine(frequency: 1_000, sampleRate: sampleRate, count: sampleRate)  // 1 s
            let (_, decoded) = try roundTrip(input, sampleRate: sampleRate,
                                             configuration: .init(bitrate: 32_000))
            XCTAssertEqual(decoded.count, input.count)
            let steady = decoded[(sampleRate / 5)...]  // skip 200 ms of start-up
            let tone = TestSignals.power(steady, frequency: 1_000, sampleRate: sampleRate)
            for other in [500.0, 1_500, 2_000, 3_000] {
                let leak = TestSignals.power(steady, frequency: other, sampleRate: sampleRate)
                XCTAssertGreaterThan(TestSignals.decibels(tone / max(leak, 1e-9)), 25,
                                     "\(sampleRate) Hz: 1 kHz vs \(other) Hz")
            }
            let gain = TestSignals.rms(steady) / TestSignals.rms(input[(sampleRate / 5)...])
            XCTAssertEqual(gain, 1, accuracy: 0.3, "\(sampleRate) Hz level")
            // Waveform match once the codec delay (a few ms) is accounted for.
            let reference = Array(input[(sampleRate / 5)..<(sampleRate / 2)])
            let output = Array(decoded[(sampleRate / 5)...])
            let match = TestSignals.bestCorrelation(reference: reference, output: output, maxLag: sampleRate / 50)
            XCTAssertGreaterThan(match.value, 0.9, "\(sampleRate) Hz correlation")
        }
    }

    func testPacketSamplesReportsDurationAtAnyRate() throws {
        let encoder = try OpusEncoder(sampleRate: 16_000)
        var packet: [UInt8] = []
        encoder.encode(TestSignals.sine(frequency: 440, sampleRate: 16_000, count: 320), into: &packet)
        XCTAssertEqual(OpusDecoder.packetSamples(packet, sampleRate: 48_000), 960)
        XCTAssertEqual(OpusDecoder.packetSamples(packet, sampleRate: 16_000), 320)
        XCTAssertEqual(OpusDecoder.packetSamples(packet, sampleRate: 8_000), 160)
        XCTAssertNil(OpusDecoder.packetSamples([], sampleRate: 48_000))
        XCTAssertNil(OpusDecoder.packetSamples([0x03], sampleRate: 48_000))  // code 3 without a count byte
    }

    func testFECRecoversTheLostFrameFromTheNextPacket() throws {
        for sampleRate in [8_000, 16_000, 48_000] {
            try checkFECRecovery(sampleRate: sampleRate)
        }
    }

    private func checkFECRecovery(sampleRate: Int) throws {
        let frame = sampleRate / 50
        // 1 kHz for 30 frames, then 2 kHz: the lost frame 30 is the first 2 kHz
        // frame, so FEC (which carries it) and PLC (which extrapolates frame 29)
        // give different spectra.
        let input = TestSignals.sine(frequency: 1_000, sampleRate: sampleRate, count: 30 * frame)
            + TestSignals.sine(frequency: 2_000, sampleRate: sampleRate, count: 20 * frame)
        let configuration = OpusEncoder.Configuration(bitrate: 24_000, inbandFEC: true, expectedPacketLossPercent: 20)
        let encoder = try OpusEncoder(sampleRate: sampleRate, configuration: configuration)
        var packets: [[UInt8]] = []
        for pcm in TestSignals.frames(input, of: frame) {
            var packet: [UInt8] = []
            XCTAssertGreaterThan(encoder.encode(pcm, into: &packet), 0)
            packets.append(packet)
        }
        let lost = 30

        func decodeUpToLoss() throws -> OpusDecoder {
            let decoder = try OpusDecoder(sampleRate: sampleRate)
            var sink: [Int16] = []
            for packet in packets[..<lost] { decoder.decode(packet, into: &sink) }
            return decoder
        }

        let fecDecoder = try decodeUpToLoss()
        var recovered: [Int16] = []
        XCTAssertEqual(fecDecoder.decodeFEC(nextPayload: packets[lost + 1], samples: frame, into: &recovered), frame)
        XCTAssertEqual(recovered.count, frame)
        // The following packet still decodes normally afterwards.
        var next: [Int16] = []
        XCTAssertEqual(fecDecoder.decode(packets[lost + 1], into: &next), frame)

        let plcDecoder = try decodeUpToLoss()
        var concealed: [Int16] = []
        plcDecoder.conceal(samples: frame, into: &concealed)
        XCTAssertEqual(concealed.count, frame)

        // Compare the second half of the frame, past the codec delay.
        let fecTail = recovered[(frame / 2)...]
        let plcTail = concealed[(frame / 2)...]
        let fec2k = TestSignals.power(fecTail, frequency: 2_000, sampleRate: sampleRate)
        let fec1k = TestSignals.power(fecTail, frequency: 1_000, sampleRate: sampleRate)
        let plc2k = TestSignals.power(plcTail, frequency: 2_000, sampleRate: sampleRate)
        let plc1k = TestSignals.power(plcTail, frequency: 1_000, sampleRate: sampleRate)
        XCTAssertGreaterThan(TestSignals.rms(fecTail), 1_000, "\(sampleRate) Hz: FEC produced audio")
        XCTAssertGreaterThan(fec2k, 10 * fec1k, "\(sampleRate) Hz: FEC carries the lost 2 kHz frame")
        XCTAssertGreaterThan(plc1k, plc2k, "\(sampleRate) Hz: PLC alone extrapolates 1 kHz (control)")
    }

    func testConcealAppendsRequestedSamples() throws {
        let decoder = try OpusDecoder(sampleRate: 48_000)
        var out: [Int16] = []
        decoder.conceal(samples: 960, into: &out)
        XCTAssertEqual(out.count, 960)
        decoder.conceal(samples: 1_000, into: &out)  // not a multiple of 2.5 ms
        XCTAssertEqual(out.count, 1_960)
        decoder.conceal(samples: 0, into: &out)
        XCTAssertEqual(out.count, 1_960)
    }

    func testCorruptPayloadsDecodeToNothingWithoutCrashing() throws {
        let decoder = try OpusDecoder(sampleRate: 8_000)
        var out: [Int16] = []
        XCTAssertEqual(decoder.decode([], into: &out), 0)
        XCTAssertEqual(decoder.decode([0x03, 0x00], into: &out), 0)  // code 3 with zero frames
        XCTAssertEqual(out.count, 0)
        var random = TestRandom(seed: 7)
        for length in 1...200 {
            let garbage = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let before = out.count
            let appended = decoder.decode(garbage, into: &out)
            XCTAssertEqual(out.count - before, appended)
            XCTAssertLessThanOrEqual(appended, 8_000 * 120 / 1_000)
        }
    }

    func testDTXSuppressesSilence() throws {
        let encoder = try OpusEncoder(sampleRate: 16_000, configuration: .init(dtx: true))
        let silence = [Int16](repeating: 0, count: 320)
        var sent = 0
        var out: [UInt8] = []
        for _ in 0..<100 {
            if encoder.encode(silence, into: &out) > 0 { sent += 1 }
        }
        XCTAssertLessThan(sent, 50, "most silent frames are not transmitted")

        let plain = try OpusEncoder(sampleRate: 16_000, configuration: .init(dtx: false))
        var plainSent = 0
        for _ in 0..<100 {
            if plain.encode(silence, into: &out) > 0 { plainSent += 1 }
        }
        XCTAssertEqual(plainSent, 100)
    }

    func testInvalidSettingsThrowTypedErrors() throws {
        XCTAssertThrowsError(try OpusEncoder(sampleRate: 44_100)) { error in
            XCTAssertEqual(error as? CodecError, .unsupportedSampleRate(44_100))
        }
        XCTAssertThrowsError(try OpusDecoder(sampleRate: 11_025))
        XCTAssertThrowsError(try OpusEncoder(sampleRate: 8_000, configuration: .init(bitrate: 100))) { error in
            guard case .invalidParameter(let name, _, _)? = error as? CodecError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(name, "bitrate")
        }
        let encoder = try OpusEncoder(sampleRate: 8_000)
        XCTAssertThrowsError(try encoder.reconfigure(.init(complexity: 11)))
        XCTAssertNoThrow(try encoder.reconfigure(.init(bitrate: 16_000, expectedPacketLossPercent: 10)))
        XCTAssertEqual(encoder.configuration.bitrate, 16_000)
        XCTAssertFalse(CodecError.unsupportedSampleRate(1).description.isEmpty)
    }

    func testWrongFrameLengthEncodesNothing() throws {
        let encoder = try OpusEncoder(sampleRate: 8_000)
        var out: [UInt8] = []
        XCTAssertEqual(encoder.encode([Int16](repeating: 0, count: 123), into: &out), 0)
        XCTAssertTrue(out.isEmpty)
    }
}
