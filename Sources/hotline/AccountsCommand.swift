import ArgumentParser
import Foundation
import SIPMessages
import SIPStack
import Storage

/// `hotline accounts add|remove|list`: SIP accounts kept in the store (data-dir), next to those
/// of the configuration file. A running daemon picks changes up within 5 seconds.
struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the SIP accounts kept in the store.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Common: ParsableArguments {
        @Option(help: "Configuration file (YAML): gives the data directory and the digest realm.")
        var config = "hotline.yaml"
        @Option(help: "Directory for the daemon's data (overrides data-dir).")
        var dataDir: String?

        func open() throws -> (HotlineStore, realm: String) {
            let configuration: HotlineConfiguration
            do {
                configuration = try HotlineConfiguration.load(path: config)
            } catch {
                throw ValidationError("\(error)")
            }
            let base = URL(fileURLWithPath: config).deletingLastPathComponent().path
            var dir = dataDir ?? configuration.dataDir
            if !dir.hasPrefix("/") { dir = dataDir != nil ? dir : base + "/" + dir }
            return (try HotlineStore(directory: dir), configuration.registrar.realm)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or replace an account (its password is stored as HA1 only).")
        @OptionGroup var common: Common
        @Argument(help: "Account name (the phone's user name, e.g. 2001).")
        var name: String
        @Option(help: "Password.")
        var password: String
        @Option(name: .customLong("network"), help: "Address or CIDR block the account may be used from (repeatable; none: anywhere).")
        var networks: [String] = []
        @Option(help: "Display name.")
        var displayName: String?

        func run() async throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ValidationError("account name '\(name)' must be letters, digits, '-', '_' or '.'")
            }
            for network in networks where IPNetwork(network) == nil {
                throw ValidationError("--network '\(network)' is not an address or CIDR block")
            }
            let (store, realm) = try common.open()
            try store.saveAccount(StoredAccount(
                name: name,
                ha1MD5: DigestMath.ha1(username: name, realm: realm, password: password, algorithm: .md5),
                ha1SHA256: DigestMath.ha1(username: name, realm: realm, password: password, algorithm: .sha256),
                networks: networks, displayName: displayName))
            print("account \(name) saved (realm \(realm))")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account.")
        @OptionGroup var common: Common
        @Argument var name: String

        func run() async throws {
            let (store, _) = try common.open()
            guard try store.deleteAccount(named: name) else { throw ValidationError("no account \(name) in the store") }
            print("account \(name) removed")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts in the store.")
        @OptionGroup var common: Common

        func run() async throws {
            let (store, _) = try common.open()
            for account in try store.accounts() {
                let networks = account.networks.isEmpty ? "anywhere" : account.networks.joined(separator: ",")
                print("\(account.name)\t\(account.displayName ?? "-")\t\(networks)")
            }
        }
    }
}
