import XCTest
@testable import SIPMessages

/// Deterministic PRNG (SplitMix64) so failures are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class FuzzTests: XCTestCase {
    static let interesting: [UInt8] = [0, 9, 10, 13, 32, 34, 37, 44, 47, 58, 59, 60, 62, 63, 64, 91, 92, 93, 0x7F, 0x80, 0xC3, 0xFF]

    func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var d = input
        let rounds = Int.random(in: 1...4, using: &rng)
        for _ in 0..<rounds {
            guard !d.isEmpty else { break }
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: // truncate
                d = Array(d.prefix(Int.random(in: 0..<d.count, using: &rng)))
            case 1: // flip a byte
                let i = Int.random(in: 0..<d.count, using: &rng)
                d[i] ^= UInt8.random(in: 1...255, using: &rng)
            case 2: // set an interesting byte
                let i = Int.random(in: 0..<d.count, using: &rng)
                d[i] = Self.interesting[Int.random(in: 0..<Self.interesting.count, using: &rng)]
            case 3: // duplicate a chunk
                let a = Int.random(in: 0..<d.count, using: &rng)
                let b = min(d.count, a + Int.random(in: 1...64, using: &rng))
                let at = Int.random(in: 0...d.count, using: &rng)
                d.insert(contentsOf: d[a..<b], at: at)
            case 4: // delete a chunk
                let a = Int.random(in: 0..<d.count, using: &rng)
                let b = min(d.count, a + Int.random(in: 1...32, using: &rng))
                d.removeSubrange(a..<b)
            case 5: // insert CRLF / fold / quote
                let at = Int.random(in: 0...d.count, using: &rng)
                let snippets: [[UInt8]] = [[13, 10], [13, 10, 32], [34], [60], [62], [44], [59], [37], [13, 10, 13, 10]]
                d.insert(contentsOf: snippets[Int.random(in: 0..<snippets.count, using: &rng)], at: at)
            default: // swap two bytes
                let i = Int.random(in: 0..<d.count, using: &rng)
                let j = Int.random(in: 0..<d.count, using: &rng)
                d.swapAt(i, j)
            }
        }
        return d
    }

    func testMutatedTortureMessagesNeverCrash() throws {
        let parser = SIPParser()
        var rng = SplitMix64(state: 0x5EED_4475)
        var parsed = 0, rejected = 0
        for e in try RFC4475.index() {
            let original = try RFC4475.load(e.file)
            for _ in 0..<2_000 {
                let input = mutate(original, &rng)
                do {
                    let m = try parser.parse(datagram: input)
                    parsed += 1
                    // Exercise the accessors and serializer on whatever parsed.
                    _ = (m.headers.values("Via"), m.headers.values("Contact"))
                    if case .request(let r) = m {
                        _ = (r.vias, r.from, r.to, r.cseq, r.contacts, r.maxForwards, r.uri.description)
                        _ = try? parser.parse(datagram: r.serialize())
                    }
                } catch {
                    rejected += 1
                    _ = error.description
                    if let p = error.partialRequest { _ = SIPResponse(to: p, statusCode: error.statusCode).serialize() }
                }
                var framer = SIPStreamFramer()
                framer.append(input)
                framer.append(input)
                while let frame = try? framer.next() {
                    _ = try? parser.parse(framed: frame)
                }
            }
        }
        XCTAssertGreaterThan(parsed, 0)
        XCTAssertGreaterThan(rejected, 0)
    }

    func testRandomBytesNeverCrash() {
        let parser = SIPParser()
        var rng = SplitMix64(state: 42)
        for _ in 0..<5_000 {
            let n = Int.random(in: 0..<300, using: &rng)
            var d = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) { d = bytes("INVITE sip:a@b SIP/2.0\r\n") + d }
            _ = try? parser.parse(datagram: d)
            let s = String(decoding: d, as: UTF8.self)
            _ = try? SIPURI.parse(s)
            _ = try? NameAddress.parse(s)
            _ = try? Via.parse(s)
            _ = try? CSeq.parse(s)
        }
    }
}
