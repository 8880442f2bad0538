// Corpus replay for the normal (non-fuzzer) build:
//
//     SIPParserFuzzer [-v] FILE|DIR...
//
// runs every file (for a directory: every regular file in it, not recursively)
// through `fuzz(_:_:)`, the same entry point libFuzzer calls. A violated
// invariant or a parser trap crashes the process; otherwise it exits 0, or 1
// when a file could not be read, 2 on bad usage. `-v` also prints, per file,
// whether `parse(datagram:)` accepted it.
#if !FUZZING
import Foundation
import SIPMessages

@main
struct SIPParserFuzzerReplay {
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        let verbose = args.first == "-v"
        if verbose { args.removeFirst() }
        guard !args.isEmpty, !args[0].hasPrefix("-") else {
            FileHandle.standardError.write(Data("usage: SIPParserFuzzer [-v] FILE|DIR...\n".utf8))
            exit(2)
        }
        var files: [String] = []
        for arg in args {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: arg, isDirectory: &isDir), isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []
                for name in names.sorted() where !name.hasPrefix(".") {
                    files.append((arg as NSString).appendingPathComponent(name))
                }
            } else {
                files.append(arg)
            }
        }
        var ran = 0, unreadable = 0
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                unreadable += 1
                continue
            }
            let bytes = [UInt8](data)
            if verbose {
                do {
                    _ = try SIPParser().parse(datagram: bytes)
                    print("\(path): accepted")
                } catch {
                    print("\(path): rejected: \(error)")
                }
            }
            bytes.withUnsafeBufferPointer { buffer in
                // libFuzzer passes a valid pointer even for an empty input.
                withUnsafePointer(to: UInt8(0)) { empty in
                    _ = fuzz(buffer.baseAddress ?? empty, buffer.count)
                }
            }
            ran += 1
        }
        print("SIPParserFuzzer: \(ran) input(s) replayed, \(unreadable) unreadable")
        exit(unreadable == 0 ? 0 : 1)
    }
}
#endif
