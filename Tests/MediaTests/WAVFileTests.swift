import XCTest
@testable import Media

final class WAVFileTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "/wav-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    private func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    private func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }
    private func chunk(_ id: String, _ body: [UInt8], pad: Bool = true) -> [UInt8] {
        Array(id.utf8) + le32(body.count) + body + (pad && body.count % 2 == 1 ? [0] : [])
    }
    private func fmt(tag: Int = 1, channels: Int = 1, rate: Int = 8000, bits: Int = 16) -> [UInt8] {
        let align = channels * bits / 8
        return chunk("fmt ", le16(tag) + le16(channels) + le32(rate) + le32(rate * align) + le16(align) + le16(bits))
    }
    private func riff(_ chunks: [UInt8]...) -> [UInt8] {
        let body = chunks.flatMap { $0 }
        return Array("RIFF".utf8) + le32(4 + body.count) + Array("WAVE".utf8) + body
    }
    private func samplesBytes(_ s: [Int16]) -> [UInt8] { s.flatMap { le16(Int(UInt16(bitPattern: $0))) } }

    private func write(_ bytes: [UInt8], _ name: String) -> String {
        let p = path(name)
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(bytes)))
        return p
    }

    private func assertError(_ bytes: [UInt8], _ reason: WAVError.Reason, file: StaticString = #filePath, line: UInt = #line) {
        let p = write(bytes, "bad.wav")
        do {
            _ = try WAVFile.read(contentsOf: p)
            XCTFail("read a bad file", file: file, line: line)
        } catch {
            XCTAssertEqual(error, WAVError(path: p, reason: reason), file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(p + ": "), file: file, line: line)
        }
    }

    func testWriteReadRoundTrip() throws {
        let samples: [Int16] = (0..<8000).map { Int16(truncatingIfNeeded: $0 * 37) } + [.min, .max, 0, -1]
        let wav = WAVFile(sampleRate: 8000, channels: 1, samples: samples)
        let p = path("tone.wav")
        try wav.write(to: p)
        let bytes = [UInt8](FileManager.default.contents(atPath: p)!)
        XCTAssertEqual(bytes.count, 44 + samples.count * 2)
        XCTAssertEqual(Array(bytes[0..<4]), Array("RIFF".utf8))
        XCTAssertEqual(try WAVFile.read(contentsOf: p), wav)
        XCTAssertEqual(wav.duration, 8004.0 / 8000.0, accuracy: 1e-9)
    }

    func testSkipsUnknownChunksAndOddPadding() throws {
        let samples: [Int16] = [1, -2, 3, -4, 32767, -32768]
        let list = chunk("LIST", Array("INFOISFT\u{5}\0\0\0Lavf\0".utf8))  // odd size: padded
        XCTAssertEqual(list.count % 2, 0)
        let fact = chunk("fact", le32(6))
        let bytes = riff(list, fmt(rate: 16000), fact, chunk("odd ", [1, 2, 3]), chunk("data", samplesBytes(samples)))
        let wav = try WAVFile.read(contentsOf: write(bytes, "list.wav"))
        XCTAssertEqual(wav, WAVFile(sampleRate: 16000, channels: 1, samples: samples))
    }

    func testStereoAndExtensible() throws {
        let samples: [Int16] = [100, -100, 200, -200]
        // WAVE_FORMAT_EXTENSIBLE with the KSDATAFORMAT_SUBTYPE_PCM GUID.
        let guid: [UInt8] = le16(1) + [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        let ext = le16(0xFFFE) + le16(2) + le32(48000) + le32(48000 * 4) + le16(4) + le16(16)
            + le16(22) + le16(16) + le32(3) + guid
        let bytes = riff(chunk("fmt ", ext), chunk("data", samplesBytes(samples)))
        let wav = try WAVFile.read(contentsOf: write(bytes, "ext.wav"))
        XCTAssertEqual(wav, WAVFile(sampleRate: 48000, channels: 2, samples: samples))
    }

    func testTruncatedDataChunkReadsWholeFrames() throws {
        // Data size claims 1000 bytes (or a streaming placeholder), only 5 are present.
        let bytes = riff(fmt()) + Array("data".utf8) + le32(0xFFFF_FFFF) + [1, 0, 2, 0, 3]
        let wav = try WAVFile.read(contentsOf: write(bytes, "trunc.wav"))
        XCTAssertEqual(wav.samples, [1, 2])
    }

    func testErrors() {
        assertError([], .notWAVE)
        assertError(Array("RIFF\0\0\0\0AVI LIST".utf8), .notWAVE)
        assertError(Array("not a wav file at all".utf8), .notWAVE)
        assertError(riff(fmt()), .missingDataChunk)
        assertError(riff(chunk("LIST", [1, 2])), .missingFormatChunk)
        assertError(riff(chunk("data", [0, 0]), fmt()), .missingFormatChunk)
        assertError(riff(fmt(bits: 8), chunk("data", [1, 2])), .unsupportedFormat(formatTag: 1, bitsPerSample: 8))
        assertError(riff(fmt(bits: 24), chunk("data", [1, 2, 3])), .unsupportedFormat(formatTag: 1, bitsPerSample: 24))
        assertError(riff(fmt(tag: 7, bits: 8), chunk("data", [1, 2])), .unsupportedFormat(formatTag: 7, bitsPerSample: 8))
        assertError(riff(fmt(tag: 3, bits: 32), chunk("data", [])), .unsupportedFormat(formatTag: 3, bitsPerSample: 32))
        assertError(riff(fmt(channels: 0), chunk("data", [])), .invalidFormat("0 channels"))
        assertError(riff(fmt(rate: 0), chunk("data", [])), .invalidFormat("sample rate 0"))
        assertError(riff(chunk("fmt ", [1, 0, 1, 0])),
                    .malformedChunk("'fmt ' chunk of 4 bytes at offset 12 is too short or truncated"))
    }

    func testMissingFileAndUnwritablePath() {
        let missing = path("nope.wav")
        XCTAssertThrowsError(try WAVFile.read(contentsOf: missing)) { error in
            XCTAssertEqual(error as? WAVError, WAVError(path: missing, reason: .cannotRead))
        }
        let bad = path("no/such/dir/x.wav")
        XCTAssertThrowsError(try WAVFile(sampleRate: 8000, samples: [1]).write(to: bad)) { error in
            XCTAssertEqual(error as? WAVError, WAVError(path: bad, reason: .cannotWrite))
        }
    }
}
