// What is known about a finished (or repaired) recording; also its JSON sidecar.

import Foundation

/// An interval during which the recording was paused for privacy, as offsets from the start
/// of the recording. The audio in it is silence on both channels.
public struct RecordingPause: Sendable, Codable, Equatable {
    public var startSeconds: Double
    public var endSeconds: Double

    public init(startSeconds: Double, endSeconds: Double) {
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
    }
}

/// The description of one recording, written next to it as `<file>.json`.
public struct RecordingMetadata: Sendable, Codable, Equatable {
    /// The call's identifier as given to the recorder (not sanitised).
    public var callID: String
    /// Absolute path of the audio file.
    public var path: String
    public var format: RecordingFormat
    public var sampleRate: Int
    /// Always 2: left is the citizen, right the other party.
    public var channels: Int
    /// When the recording started (whole milliseconds).
    public var startedAt: Date
    /// Length of the audio in the file.
    public var durationSeconds: Double
    /// Lower-case hex SHA-256 of the audio file as closed; empty if the file could not be read.
    public var sha256: String
    /// True when every frame handed to the recorder is in the file and it was closed normally.
    public var complete: Bool
    /// Why the recording is incomplete (nil when complete).
    public var failure: String?
    /// Privacy pauses, in order; their audio is silence.
    public var pauses: [RecordingPause]
    /// True when this metadata was produced by `RecordingRepair` after an interruption.
    public var repaired: Bool

    public init(
        callID: String, path: String, format: RecordingFormat, sampleRate: Int, channels: Int,
        startedAt: Date, durationSeconds: Double, sha256: String, complete: Bool, failure: String?,
        pauses: [RecordingPause], repaired: Bool
    ) {
        self.callID = callID
        self.path = path
        self.format = format
        self.sampleRate = sampleRate
        self.channels = channels
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.sha256 = sha256
        self.complete = complete
        self.failure = failure
        self.pauses = pauses
        self.repaired = repaired
    }

    /// Reads a `<file>.json` sidecar.
    public static func read(contentsOf path: String) throws(RecordingError) -> RecordingMetadata {
        try SidecarJSON.read(RecordingMetadata.self, from: path)
    }
}

/// The sidecar written when a recording starts (`<file>.partial.json`). It tells the crash
/// repair everything the audio file itself may not: who, when, the format, the pauses so far.
struct PartialSidecar: Sendable, Codable, Equatable {
    /// Layout version of this sidecar.
    var version: Int = 1
    var callID: String
    var path: String
    var format: RecordingFormat
    var sampleRate: Int
    var channels: Int
    var startedAt: Date
    /// For WAV: the byte offset of the audio data (the header length), so the repair can
    /// rebuild a header that was destroyed.
    var dataOffset: Int64?
    /// Closed pauses so far.
    var pauses: [RecordingPause]
    /// Start of a pause still in progress; the repair ends it at the end of the audio.
    var openPauseStartSeconds: Double?
}

/// File names and JSON coding of the sidecars.
enum SidecarJSON {
    static let partialSuffix = ".partial.json"
    static let finalSuffix = ".json"

    static func partialPath(forAudio path: String) -> String { path + partialSuffix }
    static func finalPath(forAudio path: String) -> String { path + finalSuffix }

    /// Dates as ISO 8601 UTC with milliseconds ("2025-01-02T10:11:12.345Z"), keys sorted so
    /// files diff cleanly.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatMilliseconds(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            let parsed = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
            guard let parsed else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
            }
            return wholeMilliseconds(parsed, rounding: .toNearestOrAwayFromZero)
        }
        return decoder
    }

    /// `date` cut to whole milliseconds. Recorders keep their start time this way, and the
    /// decoder rounds to the same value, so a date survives the JSON sidecar unchanged.
    static func wholeMilliseconds(_ date: Date, rounding rule: FloatingPointRoundingRule = .down) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(rule) / 1000)
    }

    /// Formats from whole milliseconds (the format style alone may truncate 0.345 to 0.344
    /// when the binary value lies just below).
    private static func formatMilliseconds(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let adjusted = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        let whole = Date(timeIntervalSince1970: Double(adjusted.0)).formatted(Date.ISO8601FormatStyle())
        let digits = String(adjusted.1)
        let padded = String(repeating: "0", count: 3 - digits.count) + digits
        // "2025-01-02T10:11:12Z" -> "2025-01-02T10:11:12.345Z"
        return String(whole.dropLast()) + "." + padded + "Z"
    }

    /// Encodes a sidecar and writes it atomically and durably to `path`.
    static func write<T: Encodable>(_ value: T, to path: String) throws(RecordingError) {
        let data: Data
        do {
            data = try encoder().encode(value)
        } catch {
            throw .cannotWriteMetadata(path: path, reason: "cannot encode JSON: \(error)")
        }
        try FileSystem.writeAtomically(data, to: path)
    }

    static func read<T: Decodable>(_ type: T.Type, from path: String) throws(RecordingError) -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .cannotReadMetadata(path: path, reason: "cannot read file")
        }
        do {
            return try decoder().decode(type, from: data)
        } catch {
            throw .cannotReadMetadata(path: path, reason: "invalid JSON: \(error)")
        }
    }
}
