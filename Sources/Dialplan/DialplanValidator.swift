import Foundation

/// What the validator needs to know about the rest of the configuration.
public protocol ValidationContext: Sendable {
    /// Whether `Prompts/<language>/<name>.wav` exists.
    func promptExists(_ name: String, language: String) -> Bool
    /// Whether the config defines the ACD queue.
    func queueExists(_ name: String) -> Bool
    /// Whether the config defines the trunk.
    func trunkExists(_ name: String) -> Bool
}

/// Checks a loaded dialplan as a whole (docs/dialplan.md, Validation): node references,
/// prompts in every language, queues and trunks, `set` values, loops that need no caller
/// input; warns about nodes nothing reaches and nodes that end by falling off.
public enum DialplanValidator {
    /// The problems of `plan`, sorted by location.
    public static func validate(_ plan: Dialplan, context: some ValidationContext) -> [Diagnostic] {
        var validation = Validation(plan: plan)
        validation.checkLanguages()
        validation.checkLimits(context)
        for node in validation.nodes {
            for step in node.steps {
                validation.check(step, context)
            }
        }
        let graph = NodeGraph(plan: plan, nodes: validation.nodes)
        validation.diagnostics += graph.diagnostics(start: plan.start)
        return validation.diagnostics.sortedByLocation()
    }

    /// Loads and validates one file: every diagnostic of both, sorted; the dialplan only if
    /// there is no error. The validator runs only when the loader found no error.
    public static func check(path: String, displayPath: String? = nil, context: some ValidationContext) -> (Dialplan?, [Diagnostic]) {
        let (loaded, loadDiagnostics) = DialplanLoader.load(path: path, displayPath: displayPath)
        guard let plan = loaded else { return (nil, loadDiagnostics) }
        let diagnostics = (loadDiagnostics + validate(plan, context: context)).sortedByLocation()
        return (diagnostics.contains(where: \.isError) ? nil : plan, diagnostics)
    }
}

/// The checks of single steps and top-level values.
private struct Validation {
    let plan: Dialplan
    /// In file order.
    let nodes: [Node]
    /// `languages` without repeats, in order.
    let languages: [String]
    var diagnostics: [Diagnostic] = []

    init(plan: Dialplan) {
        self.plan = plan
        nodes = plan.nodeOrder.compactMap { plan.nodes[$0] }
        var languages: [String] = []
        for language in plan.languages where !languages.contains(language) {
            languages.append(language)
        }
        self.languages = languages
    }

    /// The start of the file: for what the model keeps no location of.
    var top: SourceLocation { SourceLocation(file: plan.file, line: 1, column: 1) }

    mutating func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
    }

    mutating func checkLanguages() {
        if !languages.contains(plan.language) {
            error("'languages' must include the dialplan's language '\(plan.language)'", at: top)
        }
    }

    /// The goodbye prompt is played only if it exists: a warning.
    mutating func checkLimits(_ context: some ValidationContext) {
        let prompt = plan.limits.goodbyePrompt
        for language in languages where !context.promptExists(prompt, language: language) {
            diagnostics.append(
                .warning(
                    "limits goodbye prompt '\(prompt)' not found for \(language) (Prompts/\(language)/\(prompt).wav); "
                        + "a call that hits a limit hangs up without it",
                    at: top))
        }
    }

    mutating func check(_ step: Step, _ context: some ValidationContext) {
        for target in step.verb.targets where plan.nodes[target.value] == nil {
            error("unknown node '\(target.value)'", at: target.location)
        }
        for prompt in step.verb.prompts {
            for language in languages where !context.promptExists(prompt.value, language: language) {
                error("prompt '\(prompt.value)' not found for \(language) (Prompts/\(language)/\(prompt.value).wav)", at: prompt.location)
            }
        }
        switch step.verb {
        case .enqueue(let enqueue):
            if !context.queueExists(enqueue.queue.value) {
                error("unknown queue '\(enqueue.queue.value)'", at: enqueue.queue.location)
            }
        case .dial(let dial):
            if let trunk = dial.trunk, !context.trunkExists(trunk.value) {
                error("unknown trunk '\(trunk.value)'", at: trunk.location)
            }
        case .set(let assignments):
            for assignment in assignments {
                check(assignment)
            }
        case .when(let when):
            for branch in when.branches {
                for condition in branch.conditions {
                    if case .callerIn(let list) = condition.test, plan.callerLists[list.value] == nil {
                        error("unknown list '\(list.value)'", at: list.location)
                    }
                }
            }
        case .answer, .play, .say, .gather, .menu, .goto, .record, .robot, .webhook, .hangup:
            break
        }
    }

    /// `language` must be one of `languages`, `voice` normal or elderly (templates are checked when run).
    mutating func check(_ assignment: Assignment) {
        let value = assignment.value
        guard !Vocabulary.isTemplate(value.value) else { return }
        switch assignment.variable.value {
        case "language" where !languages.contains(value.value):
            error("language '\(value.value)' is not one of languages (\(languages.joined(separator: ", ")))", at: value.location)
        case "voice" where !["normal", "elderly"].contains(value.value):
            error("voice '\(value.value)' must be normal or elderly", at: value.location)
        default:
            break
        }
    }
}

extension Verb {
    /// Whether the node never goes on to its next step after this verb. Unlike the model's
    /// `endsNode`, also true when every outcome has a node: an `enqueue` with `next`, a
    /// `dial`/`transfer` with `on-failure` (an answered call ends there), a `record` with
    /// `next`, a `gather` with `next` and `on-failure`, a `webhook` with `next` (its
    /// `on-failure` is required).
    var leavesNode: Bool {
        switch self {
        case .goto, .hangup, .robot: true
        case .when(let w): w.otherwise != nil || w.branches.contains { $0.conditions.isEmpty }
        case .menu(let m): m.onFailure != nil
        case .gather(let g): g.next != nil && g.onFailure != nil
        case .enqueue(let e): e.next != nil
        case .dial(let d): d.onFailure != nil
        case .record(let r): r.next != nil
        case .webhook(let w): w.next != nil
        case .answer, .play, .say, .set: false
        }
    }
}

/// The nodes as a graph: an edge for every target of a step that can run. An edge is *free*
/// when the node can take it without waiting for the caller: no step before it, nor its own
/// verb, is a `menu`, `gather` or `record`.
private struct NodeGraph {
    let plan: Dialplan
    let nodes: [Node]
    /// Node name → position in the file.
    let index: [String: Int]
    /// Successors by position, without repeats, in step order.
    var edges: [[Int]]
    var freeEdges: [[Int]]
    var diagnostics: [Diagnostic] = []

    /// At most this many loops are reported per strongly connected group of nodes, and the
    /// search for them stops after this many steps (a pathological file stays fast).
    static let maxCyclesPerGroup = 20
    static let searchBudget = 200_000

    init(plan: Dialplan, nodes: [Node]) {
        self.plan = plan
        self.nodes = nodes
        index = Dictionary(nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        edges = Array(repeating: [], count: nodes.count)
        freeEdges = Array(repeating: [], count: nodes.count)
        for (position, node) in nodes.enumerated() {
            addEdges(of: node, at: position)
        }
    }

    private mutating func addEdges(of node: Node, at position: Int) {
        var waitedForCaller = false
        for (i, step) in node.steps.enumerated() {
            let verb = step.verb
            waitedForCaller = waitedForCaller || verb.takesCallerInput
            for target in verb.targets {
                guard let to = index[target.value] else { continue }
                if !edges[position].contains(to) { edges[position].append(to) }
                if !waitedForCaller, !freeEdges[position].contains(to) { freeEdges[position].append(to) }
            }
            if verb.leavesNode {
                if i + 1 < node.steps.count {
                    diagnostics.append(
                        .warning(
                            "this step never runs: the step before always leaves node '\(node.name)'",
                            at: node.steps[i + 1].location))
                }
                return
            }
        }
        let end = node.steps.last?.location ?? node.location
        diagnostics.append(.warning("node '\(node.name)' ends without goto or hangup; the call hangs up here", at: end))
    }

    func diagnostics(start: NodeReference) -> [Diagnostic] {
        var diagnostics = self.diagnostics
        if let first = index[start.value] {
            for position in unreachable(from: first) {
                diagnostics.append(.warning("node '\(nodes[position].name)' is never reached", at: nodes[position].location))
            }
        } else {
            diagnostics.append(.error("unknown start node '\(start.value)'", at: start.location))
        }
        for cycle in loopsWithoutInput() {
            let names = (cycle + [cycle[0]]).map { nodes[$0].name }
            diagnostics.append(
                .error(
                    "node '\(names[0])' can loop without caller input: \(names.joined(separator: " → "))",
                    at: nodes[cycle[0]].location))
        }
        return diagnostics
    }

    /// Positions no path from `start` reaches, in file order.
    func unreachable(from start: Int) -> [Int] {
        var reached = Array(repeating: false, count: nodes.count)
        reached[start] = true
        var queue = [start]
        while let position = queue.popLast() {
            for next in edges[position] where !reached[next] {
                reached[next] = true
                queue.append(next)
            }
        }
        return reached.indices.filter { !reached[$0] }
    }

    /// Elementary cycles of free edges, each starting at its first node in file order; cycles
    /// with the same first node in the order their edges are written.
    func loopsWithoutInput() -> [[Int]] {
        let groups = stronglyConnectedGroups(freeEdges)
        var cycles: [[Int]] = []
        var budget = Self.searchBudget
        for group in groups {
            let isCyclic = group.count > 1 || freeEdges[group[0]].contains(group[0])
            guard isCyclic else { continue }
            var found = 0
            for start in group.sorted() where found < Self.maxCyclesPerGroup {
                // Cycles whose first node is `start`: through members after it in the file.
                let members = Set(group.filter { $0 >= start })
                var path = [start]
                var onPath: Set<Int> = [start]
                var nextEdge = [0]
                while let top = path.last, budget > 0, found < Self.maxCyclesPerGroup {
                    budget -= 1
                    let successors = freeEdges[top]
                    let k = nextEdge[nextEdge.count - 1]
                    guard k < successors.count else {
                        path.removeLast()
                        onPath.remove(top)
                        nextEdge.removeLast()
                        continue
                    }
                    nextEdge[nextEdge.count - 1] = k + 1
                    let next = successors[k]
                    if next == start {
                        cycles.append(path)
                        found += 1
                    } else if members.contains(next), !onPath.contains(next) {
                        path.append(next)
                        onPath.insert(next)
                        nextEdge.append(0)
                    }
                }
            }
        }
        return cycles
    }
}

/// Tarjan's strongly connected components, without recursion; each group's members in no
/// particular order.
private func stronglyConnectedGroups(_ edges: [[Int]]) -> [[Int]] {
    let count = edges.count
    var indexOf = Array(repeating: -1, count: count)
    var lowLink = Array(repeating: 0, count: count)
    var onStack = Array(repeating: false, count: count)
    var stack: [Int] = []
    var groups: [[Int]] = []
    var nextIndex = 0

    for root in 0..<count where indexOf[root] < 0 {
        // (vertex, next edge to look at)
        var work: [(vertex: Int, edge: Int)] = [(root, 0)]
        indexOf[root] = nextIndex
        lowLink[root] = nextIndex
        nextIndex += 1
        stack.append(root)
        onStack[root] = true
        while let (v, e) = work.last {
            if e < edges[v].count {
                work[work.count - 1].edge = e + 1
                let w = edges[v][e]
                if indexOf[w] < 0 {
                    indexOf[w] = nextIndex
                    lowLink[w] = nextIndex
                    nextIndex += 1
                    stack.append(w)
                    onStack[w] = true
                    work.append((w, 0))
                } else if onStack[w] {
                    lowLink[v] = min(lowLink[v], indexOf[w])
                }
                continue
            }
            work.removeLast()
            if let parent = work.last?.vertex {
                lowLink[parent] = min(lowLink[parent], lowLink[v])
            }
            if lowLink[v] == indexOf[v] {
                var group: [Int] = []
                while let w = stack.popLast() {
                    onStack[w] = false
                    group.append(w)
                    if w == v { break }
                }
                groups.append(group)
            }
        }
    }
    return groups
}
