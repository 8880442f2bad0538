// Where a recording goes: day folders and a file name from the start time and the call id.

import Crypto
import Foundation

enum RecordingFileName {
    /// Longest sanitised call id kept in a file name.
    static let maxCallIDLength = 64

    /// `root/yyyy/MM/dd` for the day of `date` in `timeZone`.
    static func dayFolder(root: String, date: Date, timeZone: TimeZone) -> String {
        let parts = components(of: date, in: timeZone)
        return "\(root)/\(pad(parts.year, 4))/\(pad(parts.month, 2))/\(pad(parts.day, 2))"
    }

    /// `20250102T101112Z_<call id>` (`+0800` instead of `Z` outside UTC): sorts by time, and
    /// the call id can be found with a glob.
    static func baseName(callID: String, date: Date, timeZone: TimeZone) -> String {
        let parts = components(of: date, in: timeZone)
        let stamp = "\(pad(parts.year, 4))\(pad(parts.month, 2))\(pad(parts.day, 2))T"
            + "\(pad(parts.hour, 2))\(pad(parts.minute, 2))\(pad(parts.second, 2))"
        return "\(stamp)\(offsetSuffix(for: date, in: timeZone))_\(sanitise(callID: callID))"
    }

    /// A call id made safe as a file name component: ASCII letters, digits, '-', '_' and '.'
    /// (not leading) are kept, anything else becomes '_'. If anything had to change, or the id
    /// is long, a short hash of the original keeps distinct ids distinct.
    static func sanitise(callID: String) -> String {
        var safe = ""
        for scalar in callID.unicodeScalars {
            let isSafe = scalar.isASCII
                && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                    || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_"
                    || (scalar == "." && !safe.isEmpty))
            safe.unicodeScalars.append(isSafe ? scalar : "_")
        }
        let changed = safe != callID || safe.count > maxCallIDLength || safe.isEmpty
        guard changed else { return safe }
        let digest = FileSystem.hexString(SHA256.hash(data: Data(callID.utf8)).prefix(4))
        let kept = safe.prefix(maxCallIDLength)
        return kept.isEmpty ? "call-\(digest)" : "\(kept)-\(digest)"
    }

    /// Makes `directory` absolute (relative to the working directory) and tidy.
    static func absolute(_ directory: String) -> String {
        let path = directory.hasPrefix("/")
            ? directory
            : FileManager.default.currentDirectoryPath + "/" + directory
        return (path as NSString).standardizingPath
    }

    private static func components(of date: Date, in timeZone: TimeZone) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    }

    private static func offsetSuffix(for date: Date, in timeZone: TimeZone) -> String {
        let offset = timeZone.secondsFromGMT(for: date)
        if offset == 0 { return "Z" }
        let minutes = abs(offset) / 60
        return (offset < 0 ? "-" : "+") + pad(minutes / 60, 2) + pad(minutes % 60, 2)
    }

    private static func pad(_ value: Int?, _ width: Int) -> String {
        let text = String(value ?? 0)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
