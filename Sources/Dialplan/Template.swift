/// Dialplan templates (docs/dialplan.md, "Variables"): `${name}` is replaced by the variable's
/// value, the empty string when it is unset; `$$` is a literal `$`. Anything else, a lone `$`,
/// `${` without a closing brace or with a name outside `[A-Za-z0-9_.-]+`, is kept as written.
public enum Template {
    /// Expands `text`, asking `lookup` for each variable named in it.
    public static func expand(_ text: String, _ lookup: (String) -> String?) -> String {
        let scalars = text.unicodeScalars
        var result = String.UnicodeScalarView()
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let scalar = scalars[index]
            let next = scalars.index(after: index)
            guard scalar == "$", next < scalars.endIndex else {
                result.append(scalar)
                index = next
                continue
            }
            if scalars[next] == "$" {
                result.append("$")
                index = scalars.index(after: next)
            } else if scalars[next] == "{", let (name, end) = variableName(in: scalars, from: scalars.index(after: next)) {
                result.append(contentsOf: (lookup(name) ?? "").unicodeScalars)
                index = end
            } else {
                result.append(scalar)
                index = next
            }
        }
        return String(result)
    }

    /// Whether `name` may name a variable: `[A-Za-z0-9_.-]+`.
    public static func isVariableName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy(isNameScalar)
    }

    /// The name from `start` up to a closing `}` and the index after that brace; nil when the
    /// characters there do not form `name}`.
    private static func variableName(
        in scalars: String.UnicodeScalarView, from start: String.UnicodeScalarView.Index
    ) -> (String, String.UnicodeScalarView.Index)? {
        var index = start
        while index < scalars.endIndex, isNameScalar(scalars[index]) {
            index = scalars.index(after: index)
        }
        guard index > start, index < scalars.endIndex, scalars[index] == "}" else { return nil }
        return (String(scalars[start..<index]), scalars.index(after: index))
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", ".", "-": true
        default: false
        }
    }
}
