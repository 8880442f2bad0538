import Foundation
import HotlineCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CloudEvents 1.0, JSON structured mode, with stable bytes: keys sorted (by UTF-8 bytes), no
/// insignificant whitespace, `/` not escaped, non-ASCII text as raw UTF-8. Hand-written rather
/// than `JSONEncoder` because it runs for every event on the commit path.
public enum CloudEventEncoder {
    public static func encode(_ event: CallEvent, source: String) -> [UInt8] {
        var data = event.data
        data["seq"] = .int(Int64(event.sequence))
        // The top-level keys, already in sorted order.
        var out = JSONWriter()
        out.bytes.reserveCapacity(320)
        out.raw("{\"data\":")
        out.object(data)
        out.raw(",\"datacontenttype\":\"application/json\",\"id\":")
        out.string(event.id)
        out.raw(",\"source\":")
        out.string(source)
        out.raw(",\"specversion\":\"1.0\",\"subject\":")
        out.string(event.callID.rawValue)
        out.raw(",\"time\":\"")
        out.raw(RFC3339.format(event.time))
        out.raw("\",\"type\":")
        out.string(event.type)
        out.raw("}")
        return out.bytes
    }

    /// The event's `data` object as the CloudEvent carries it (with `seq`): the CDR `record`.
    public static func encodeData(_ event: CallEvent) -> [UInt8] {
        var data = event.data
        data["seq"] = .int(Int64(event.sequence))
        var out = JSONWriter()
        out.object(data)
        return out.bytes
    }

    /// Any JSON value with sorted keys.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out = JSONWriter()
        out.value(value)
        return out.bytes
    }
}

struct JSONWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func value(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .int(let i): raw(String(i))
        case .double(let d):
            if !d.isFinite { raw("null") }
            else if d == d.rounded(.towardZero), abs(d) < 1e15 { raw(String(Int64(d))) }
            else { raw("\(d)") }
        case .string(let s): string(s)
        case .array(let a):
            bytes.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                value(e)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let o): object(o)
        }
    }

    mutating func object(_ o: [String: JSONValue]) {
        bytes.append(UInt8(ascii: "{"))
        let keys = o.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for (i, k) in keys.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(k)
            bytes.append(UInt8(ascii: ":"))
            value(o[k]!)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(b)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(b)
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0..<0x20:
                raw("\\u00")
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0x0F)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// RFC 3339 timestamps in UTC with milliseconds, e.g. `2026-11-22T18:04:12.345Z`.
public enum RFC3339 {
    public static func format(_ date: Date) -> String {
        // Round to the microsecond first, so that 12.345 stored as 12.34499999... stays .345.
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var totalMs = micros / 1000
        if micros % 1000 < 0 { totalMs -= 1 }
        var seconds = totalMs / 1000
        var ms = totalMs % 1000
        if ms < 0 { ms += 1000; seconds -= 1 }
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        return pad(Int(tm.tm_year) + 1900, 4) + "-" + pad(Int(tm.tm_mon) + 1, 2) + "-" + pad(Int(tm.tm_mday), 2)
            + "T" + pad(Int(tm.tm_hour), 2) + ":" + pad(Int(tm.tm_min), 2) + ":" + pad(Int(tm.tm_sec), 2)
            + "." + pad(Int(ms), 3) + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil when malformed.
    public static func parse(_ string: String) -> Date? {
        let b = Array(string.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2),
              b[7] == UInt8(ascii: "-"), let day = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2), b[16] == UInt8(ascii: ":"),
              let second = num(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
