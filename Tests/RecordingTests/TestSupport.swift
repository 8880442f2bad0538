// Helpers shared by the recording tests: temporary folders, tones, reading files back.

import CSndFile
import Crypto
import Foundation
import Logging
import XCTest

@testable import Recording

/// A logger that drops everything (the tests assert on results, not on log lines).
let quietLogger = Logger(label: "recording-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A fresh folder under the system temporary folder, removed by the test's teardown.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("recording-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock {
        // Undo chmod tests before removing.
        chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }
    return path
}

/// Samples of a sine tone, continuing from `startFrame` so consecutive calls join smoothly.
func tone(frequency: Double, sampleRate: Int, startFrame: Int, count: Int, amplitude: Double = 8000) -> [Int16] {
    (0..<count).map { index in
        let t = Double(startFrame + index) / Double(sampleRate)
        return Int16((amplitude * sin(2 * Double.pi * frequency * t)).rounded())
    }
}

/// Feeds `seconds` of audio in 20 ms ticks: `leftHz` on the left, `rightHz` on the right.
/// Returns the frame index after the last frame fed.
@discardableResult
func feed(
    _ recorder: CallRecorder, seconds: Double, sampleRate: Int, startFrame: Int = 0,
    leftHz: Double = 440, rightHz: Double = 1000
) -> Int {
    let tick = sampleRate / 50
    let ticks = Int((seconds * 50).rounded())
    var frame = startFrame
    for _ in 0..<ticks {
        let left = tone(frequency: leftHz, sampleRate: sampleRate, startFrame: frame, count: tick)
        let right = tone(frequency: rightHz, sampleRate: sampleRate, startFrame: frame, count: tick)
        left.withUnsafeBufferPointer { l in
            right.withUnsafeBufferPointer { r in
                recorder.append(left: l, right: r)
            }
        }
        frame += tick
    }
    return frame
}

/// An audio file read back with libsndfile.
struct DecodedAudio {
    var sampleRate: Int
    var channels: Int
    /// Frames libsndfile announced when opening.
    var announcedFrames: Int
    var left: [Int16]
    var right: [Int16]

    var frames: Int { left.count }
    var durationSeconds: Double { Double(frames) / Double(sampleRate) }
}

func decode(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> DecodedAudio {
    var info = SF_INFO()
    guard let handle = sf_open(path, Int32(SFM_READ), &info) else {
        let message = String(cString: sf_strerror(nil))
        XCTFail("libsndfile cannot open \(path): \(message)", file: file, line: line)
        throw RecordingError.cannotOpen(path: path, message: message)
    }
    defer { sf_close(handle) }
    let channels = Int(info.channels)
    var left: [Int16] = []
    var right: [Int16] = []
    var buffer = [Int16](repeating: 0, count: 4096 * channels)
    while true {
        let got = Int(buffer.withUnsafeMutableBufferPointer { sf_readf_short(handle, $0.baseAddress, 4096) })
        if got <= 0 { break }
        for frame in 0..<got {
            left.append(buffer[frame * channels])
            right.append(buffer[frame * channels + (channels > 1 ? 1 : 0)])
        }
    }
    return DecodedAudio(
        sampleRate: Int(info.samplerate), channels: channels, announcedFrames: Int(info.frames),
        left: left, right: right)
}

/// Power of one frequency in a block of samples (Goertzel), normalised by the block length.
func goertzelPower(_ samples: ArraySlice<Int16>, frequency: Double, sampleRate: Int) -> Double {
    let coefficient = 2 * cos(2 * Double.pi * frequency / Double(sampleRate))
    var s1 = 0.0
    var s2 = 0.0
    for sample in samples {
        let s = Double(sample) + coefficient * s1 - s2
        s2 = s1
        s1 = s
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    return power / Double(samples.count * samples.count)
}

/// Asserts that `samples[range]` (all of them by default) hold `expected` and not `other`
/// (power ratio at least `ratio`).
func assertDominantFrequency(
    _ all: [Int16], range: Range<Int>? = nil, expected: Double, other: Double, sampleRate: Int, ratio: Double,
    _ message: String, file: StaticString = #filePath, line: UInt = #line
) {
    let range = range ?? all.indices
    guard !range.isEmpty, range.upperBound <= all.count else {
        return XCTFail("\(message): only \(all.count) samples, need \(range)", file: file, line: line)
    }
    let samples = all[range]
    let wanted = goertzelPower(samples, frequency: expected, sampleRate: sampleRate)
    let unwanted = goertzelPower(samples, frequency: other, sampleRate: sampleRate)
    XCTAssertGreaterThan(wanted, 1000, "\(message): no \(expected) Hz tone", file: file, line: line)
    XCTAssertGreaterThan(wanted, unwanted * ratio, "\(message): \(expected) Hz does not dominate \(other) Hz", file: file, line: line)
}

func sha256Hex(ofFile path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func waitUntil(timeout: Double = 5, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return try condition()
}

/// Reads a JSON sidecar the way the recorder writes it.
func readSidecar<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
    try SidecarJSON.read(type, from: path)
}

/// Frequencies in the tests: left (citizen) and right (other party).
let leftHz = 440.0
let rightHz = 1000.0
