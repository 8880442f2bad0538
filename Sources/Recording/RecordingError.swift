// Why a recording could not be made or was cut short.

/// Why a recording could not be started, or why it is incomplete.
///
/// `CallRecorder.init` throws these; after creation they never reach the call path but end
/// up, as their `description`, in `RecordingMetadata.failure`.
public enum RecordingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A setting is out of range (sample rate, flush interval, ...).
    case invalidSettings(String)
    /// A folder of the recording path could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// The audio file (or its sidecar) could not be created.
    case cannotCreateFile(path: String, reason: String)
    /// libsndfile refused to open the file; `message` is libsndfile's.
    case cannotOpen(path: String, message: String)
    /// Writing audio failed (disk full, I/O error, file size limit, ...).
    case writeFailed(path: String, message: String)
    /// `fsync` failed: data may not be on stable storage.
    case syncFailed(path: String, reason: String)
    /// Closing the audio file failed (the final header or Ogg page may be missing).
    case closeFailed(path: String, message: String)
    /// The writer fell further behind than `RecordingSettings.maxBacklog`; later audio was dropped.
    case writerFellBehind(backlogSeconds: Double)
    /// A JSON sidecar could not be written or removed.
    case cannotWriteMetadata(path: String, reason: String)
    /// A JSON sidecar could not be read or decoded.
    case cannotReadMetadata(path: String, reason: String)
    /// The finished file could not be read back to compute its SHA-256.
    case cannotHash(path: String, reason: String)
    /// The recording was interrupted (daemon killed or crashed) and repaired at the next start.
    case interrupted(detail: String)
    /// The audio file of an interrupted recording could not be repaired.
    case repairFailed(path: String, reason: String)
    /// The recorder was released without `finish()`; it was finalised in the background.
    case abandoned

    public var description: String {
        switch self {
        case .invalidSettings(let what):
            return "invalid recording settings: \(what)"
        case .cannotCreateDirectory(let path, let reason):
            return "cannot create recording directory \(path): \(reason)"
        case .cannotCreateFile(let path, let reason):
            return "cannot create recording file \(path): \(reason)"
        case .cannotOpen(let path, let message):
            return "cannot open recording file \(path): \(message)"
        case .writeFailed(let path, let message):
            return "writing recording \(path) failed: \(message)"
        case .syncFailed(let path, let reason):
            return "flushing recording \(path) to disk failed: \(reason)"
        case .closeFailed(let path, let message):
            return "closing recording \(path) failed: \(message)"
        case .writerFellBehind(let seconds):
            return "recording writer fell more than \(formatSeconds(seconds)) s behind; later audio was dropped"
        case .cannotWriteMetadata(let path, let reason):
            return "cannot write recording metadata \(path): \(reason)"
        case .cannotReadMetadata(let path, let reason):
            return "cannot read recording metadata \(path): \(reason)"
        case .cannotHash(let path, let reason):
            return "cannot read recording \(path) to compute its SHA-256: \(reason)"
        case .interrupted(let detail):
            return "recording interrupted before it was finished: \(detail)"
        case .repairFailed(let path, let reason):
            return "cannot repair interrupted recording \(path): \(reason)"
        case .abandoned:
            return "recorder released without finish(); finalised in the background"
        }
    }
}

/// Seconds with at most three decimals and no trailing zeros ("10", "0.5").
private func formatSeconds(_ value: Double) -> String {
    let millis = (value * 1000).rounded()
    if millis.truncatingRemainder(dividingBy: 1000) == 0 {
        return String(Int(millis / 1000))
    }
    return String(millis / 1000)
}
