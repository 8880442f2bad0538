import XCTest
@testable import Media

/// Straight transcription of the Sun Microsystems / CCITT reference g711.c encoders
/// (loop-based segment search), to check the optimized implementation against.
enum ReferenceG711 {
    static let segUEnd: [Int32] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
    static let segAEnd: [Int32] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]

    static func search(_ value: Int32, _ table: [Int32]) -> Int {
        for (i, end) in table.enumerated() where value <= end { return i }
        return table.count
    }

    static func linear2ulaw(_ sample: Int16) -> UInt8 {
        var pcm = Int32(sample) >> 2
        let mask: Int32
        if pcm < 0 { pcm = -pcm; mask = 0x7F } else { mask = 0xFF }
        if pcm > 8159 { pcm = 8159 }
        pcm += 0x84 >> 2
        let seg = search(pcm, segUEnd)
        if seg >= 8 { return UInt8(0x7F ^ mask) }
        let uval = Int32(seg << 4) | ((pcm >> Int32(seg + 1)) & 0xF)
        return UInt8(uval ^ mask)
    }

    static func linear2alaw(_ sample: Int16) -> UInt8 {
        var pcm = Int32(sample) >> 3
        let mask: Int32
        if pcm >= 0 { mask = 0xD5 } else { mask = 0x55; pcm = -pcm - 1 }
        let seg = search(pcm, segAEnd)
        if seg >= 8 { return UInt8(0x7F ^ mask) }
        var aval = Int32(seg << 4)
        aval |= seg < 2 ? (pcm >> 1) & 0xF : (pcm >> Int32(seg)) & 0xF
        return UInt8(aval ^ mask)
    }
}

final class G711Tests: XCTestCase {
    func testKnownValues() {
        XCTAssertEqual(G711.encodeULaw(0), 0xFF)
        XCTAssertEqual(G711.encodeALaw(0), 0xD5)
        XCTAssertEqual(G711.decodeULaw(0x00), -32124)
        XCTAssertEqual(G711.decodeULaw(0x80), 32124)
        XCTAssertEqual(G711.decodeULaw(0xFF), 0)
        XCTAssertEqual(G711.decodeULaw(0x7F), 0)
        XCTAssertEqual(G711.decodeULaw(0x7E), -8)
        XCTAssertEqual(G711.decodeULaw(0xFE), 8)
        XCTAssertEqual(G711.decodeALaw(0x55), -8)
        XCTAssertEqual(G711.decodeALaw(0xD5), 8)
        XCTAssertEqual(G711.decodeALaw(0x2A), -32256)
        XCTAssertEqual(G711.decodeALaw(0xAA), 32256)
        XCTAssertEqual(G711.encodeULaw(Int16.max), 0x80)
        XCTAssertEqual(G711.encodeULaw(Int16.min), 0x00)
        XCTAssertEqual(G711.encodeALaw(Int16.max), 0xAA)
        XCTAssertEqual(G711.encodeALaw(Int16.min), 0x2A)
        XCTAssertEqual(G711.encodeULaw(-1), 0x7E)  // -1 >> 2 = -1: first negative step, not -0
        XCTAssertEqual(G711.encodeALaw(-1), 0x55)
    }

    func testEncodersMatchReferenceForAllInputs() {
        for value in Int32(Int16.min)...Int32(Int16.max) {
            let s = Int16(value)
            XCTAssertEqual(G711.encodeULaw(s), ReferenceG711.linear2ulaw(s), "µ-law \(s)")
            XCTAssertEqual(G711.encodeALaw(s), ReferenceG711.linear2alaw(s), "A-law \(s)")
            if G711.encodeULaw(s) != ReferenceG711.linear2ulaw(s) || G711.encodeALaw(s) != ReferenceG711.linear2alaw(s) {
                return
            }
        }
    }

    func testEncodeOfDecodeIsIdentity() {
        for code in 0...255 {
            let c = UInt8(code)
            // µ-law has two zeros: 0xFF (+0) and 0x7F (-0); zero encodes as 0xFF.
            XCTAssertEqual(G711.encodeULaw(G711.decodeULaw(c)), c == 0x7F ? 0xFF : c, "µ-law code \(code)")
            XCTAssertEqual(G711.encodeALaw(G711.decodeALaw(c)), c, "A-law code \(code)")
        }
    }

    func testDecodeIsMonotonicAndSymmetric() {
        for code in 0..<128 {
            let c = UInt8(code)
            XCTAssertEqual(G711.decodeULaw(c), -G711.decodeULaw(c | 0x80))
            XCTAssertEqual(G711.decodeALaw(c), -G711.decodeALaw(c | 0x80))
        }
        let positives = (0..<128).map { G711.decodeULaw(0xFF - UInt8($0)) }
        XCTAssertEqual(positives, positives.sorted())
    }

    func testBulkMatchesScalar() {
        let pcm: [Int16] = (0..<1000).map { Int16(truncatingIfNeeded: $0 &* 7919 &- 30000) }
        for law in [G711Law.ulaw, .alaw] {
            let codes = G711.encode(pcm, law: law)
            XCTAssertEqual(codes, pcm.map { G711.encode($0, law: law) })
            let decoded = G711.decode(codes, law: law)
            XCTAssertEqual(decoded, codes.map { G711.decode($0, law: law) })
            var fromRaw = [Int16](repeating: 0, count: codes.count)
            codes.withUnsafeBytes { raw in
                fromRaw.withUnsafeMutableBufferPointer { G711.decode(raw, into: $0, law: law) }
            }
            XCTAssertEqual(fromRaw, decoded)
        }
        XCTAssertEqual(G711.encode([], law: .ulaw), [])
        XCTAssertEqual(G711.decode([], law: .alaw), [])
    }

    private func snr(_ law: G711Law, amplitude: Double) -> Double {
        let pcm: [Int16] = (0..<8000).map { Int16((amplitude * sin(2 * .pi * 1004 * Double($0) / 8000)).rounded()) }
        let out = G711.decode(G711.encode(pcm, law: law), law: law)
        var signal = 0.0, noise = 0.0
        for (a, b) in zip(pcm, out) {
            signal += Double(a) * Double(a)
            noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
        }
        return 10 * log10(signal / noise)
    }

    func testSineWaveSNR() {
        for law in [G711Law.ulaw, .alaw] {
            for amplitude in [30000.0, 10000.0, 2000.0] {
                let value = snr(law, amplitude: amplitude)
                XCTAssertGreaterThan(value, 30, "\(law) at amplitude \(amplitude): \(value) dB")
            }
        }
    }
}

final class G711TranscodeTests: XCTestCase {
    /// µ-law ↔ A-law relaying keeps the sample within one quantisation step of either law.
    func testTranscodingKeepsTheSample() {
        for code in 0...255 {
            let u = UInt8(code)
            let a = G711.transcode(u, from: .ulaw, to: .alaw)
            let original = Int(G711.decodeULaw(u))
            let relayed = Int(G711.decodeALaw(a))
            let step = max(16, abs(original) / 16)
            XCTAssertLessThanOrEqual(abs(original - relayed), step, "µ-law \(code)")
            XCTAssertEqual(G711.transcode(u, from: .ulaw, to: .ulaw), u)
        }
    }
}
