import ArgumentParser
import MQTTClient
import OneM2M
import OneM2MClient

/// A subcommand that does its work in `execute` and reports an exit status (the root's
/// `runMain` maps errors to one stderr line and the exit codes of docs/cli.md).
protocol CLICommand: ParsableCommand {
    mutating func execute() throws(CLIError) -> Int32
}

extension CLICommand {
    mutating func run() throws {
        // Not used by `onem2m` itself (runMain calls execute); kept for ArgumentParser's main().
        let status = try execute()
        if status != 0 { throw ExitCode(status) }
    }
}

/// `onem2m`: a oneM2M AE on the command line, over MQTT (TS-0010).
struct OneM2MTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onem2m",
        abstract: "Talk to a oneM2M CSE over MQTT (TS-0010) as an AE.",
        discussion: """
            Every command acts as the originator --origin. Request commands print the response \
            primitive as one JSON line on stdout. Exit status: 0 success (rsc 2xxx), 1 the CSE \
            answered another rsc, 2 bad command line, 3 connection failure or timeout.
            """,
        subcommands: [Register.self, Create.self, Retrieve.self, Update.self, Delete.self, Listen.self, Deregister.self, Bench.self]
    )

    func run() throws {
        throw ValidationError("missing subcommand (register, create, retrieve, update, delete, listen, deregister, bench); see onem2m --help")
    }

    /// Parses the command line, runs the command and exits with its status. Never traps on bad
    /// input: every failure is one `onem2m: error: ...` line on stderr.
    static func runMain() -> Never {
        let status: Int32
        do {
            let parsed = try parseAsRoot()
            if var command = parsed as? any CLICommand {
                status = try command.execute()
            } else {
                var command = parsed
                try command.run()
                status = Status.ok
            }
        } catch let e as CLIError {
            writeErr("onem2m: error: \(oneLine(e.message))\n")
            status = e.status
        } catch {
            if exitCode(for: error) == .success {
                writeOut(fullMessage(for: error) + "\n")  // --help
                status = Status.ok
            } else {
                writeErr("onem2m: error: \(oneLine(message(for: error)))\n")
                status = Status.usage
            }
        }
        exitProcess(status)
    }
}

extension CLIError: CustomStringConvertible {
    var description: String { message }
}

// MARK: - register

struct Register: CLICommand {
    static let configuration = CommandConfiguration(
        abstract: "Register an AE: CREATE <AE> at the CSEBase (--cse-name), with AE-ID = --origin.")

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("app-id"), help: ArgumentHelp("The App-ID (api): N... or R... .", valueName: "NXXX"))
    var appID: String

    @Option(help: ArgumentHelp("The AE's resource name (rn).", valueName: "RN"))
    var name: String

    @Option(help: ArgumentHelp("A pointOfAccess (repeatable). Default: the --broker URL, so the CSE can send notifications through the same broker.", valueName: "URL"))
    var poa: [String] = []

    func validate() throws {
        for p in poa { _ = try BrokerEndpoint(parsing: p, option: "--poa") }
    }

    struct Job: ClientJob {
        let appID: String, name: String, poa: [String]
        mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32 {
            let (appID, name, poa) = (self.appID, self.name, self.poa)
            let what = "register \(context.options.originator) at \(context.options.cseName)"
            do {
                let r = try client.perform { c throws(OneM2MClientError) in try c.registerAE(appID: appID, name: name, pointOfAccess: poa) }
                return report(r, what)
            } catch { throw context.fail(error, what) }
        }
    }

    mutating func execute() throws(CLIError) -> Int32 {
        var job = Job(appID: appID, name: name, poa: poa.isEmpty ? [common.broker] : poa)
        return try withConnectedClient(common, &job)
    }
}

// MARK: - create

struct Create: CLICommand {
    static let configuration = CommandConfiguration(
        abstract: "CREATE a resource under --to.",
        discussion: """
            ae: --app-id (and --name). container: --name. contentInstance: --content (con). \
            subscription: --nu (notification targets, e.g. an AE-ID) and net [3]. \
            Any other type (a NUMBER), or any type with --pc: the content is the raw --pc JSON.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The parent resource (e.g. cse-in/myAE). Default for --type ae: --cse-name.", valueName: "PATH"))
    var to: String?

    @Option(help: ArgumentHelp("ae, container, contentInstance, subscription, or a resource type NUMBER.", valueName: "TYPE"))
    var type: ResourceTypeArgument

    @Option(help: ArgumentHelp("The resource name (rn).", valueName: "RN"))
    var name: String?

    @Option(help: ArgumentHelp("The content (con) of a contentInstance.", valueName: "TEXT"))
    var content: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Notification URIs of a subscription (e.g. an AE-ID).", valueName: "ID"))
    var nu: [String] = []

    @Option(name: .customLong("app-id"), help: ArgumentHelp("The App-ID of an AE.", valueName: "NXXX"))
    var appID: String?

    @Option(help: ArgumentHelp("The primitive content as JSON, e.g. {\"m2m:cnt\":{\"rn\":\"x\"}}.", valueName: "JSON"))
    var pc: String?

    func validate() throws {
        let t = type.type
        if to == nil && t != .ae { throw ValidationError("--to PATH is required (the parent resource)") }
        if let pc {
            do { _ = try validatedJSONObject(pc, option: "--pc") } catch { throw ValidationError(error.message) }
            if name != nil || content != nil || !nu.isEmpty || appID != nil {
                throw ValidationError("--pc gives the whole content; do not combine it with --name, --content, --nu or --app-id")
            }
            return
        }
        if appID != nil && t != .ae { throw ValidationError("--app-id applies only to --type ae") }
        if content != nil && t != .contentInstance { throw ValidationError("--content applies only to --type contentInstance") }
        if !nu.isEmpty && t != .subscription { throw ValidationError("--nu applies only to --type subscription") }
        switch t {
        case .ae: if appID == nil { throw ValidationError("--type ae needs --app-id (or --pc)") }
        case .container: break
        case .contentInstance: if content == nil { throw ValidationError("--type contentInstance needs --content (or --pc)") }
        case .subscription: if nu.isEmpty { throw ValidationError("--type subscription needs --nu ID (or --pc)") }
        default: throw ValidationError("--type \(t.rawValue) needs --pc JSON (the content)")
        }
    }

    struct Job: ClientJob {
        let to: String, type: ResourceType, typeName: String
        let name: String?, content: String?, nu: [String], appID: String?, pc: [UInt8]?

        mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32 {
            let what = "create \(typeName) under \(to)"
            let (to, type, name, content, nu) = (self.to, self.type, self.name, self.content, self.nu)
            do {
                let r: OneM2MResponse
                if let pc {
                    r = try client.perform { c throws(OneM2MClientError) in try c.create(under: to, type: type, contentJSON: pc) }
                } else if type == .container, let name {
                    r = try client.perform { c throws(OneM2MClientError) in try c.createContainer(under: to, name: name) }
                } else if type == .subscription, let name {
                    r = try client.perform { c throws(OneM2MClientError) in
                        try c.createSubscription(under: to, name: name, notificationURIs: nu, eventTypes: [3])
                    }
                } else if type == .contentInstance, let content {
                    // The SDK's zero-copy form: `con` and `rn` go straight into the MQTT buffer.
                    r = try client.perform { c throws(OneM2MClientError) in
                        try withByteString(to) { (path) throws(OneM2MClientError) -> RequestID in
                            try withByteString(content) { (con) throws(OneM2MClientError) -> RequestID in
                                try withByteString(name ?? "") { (rn) throws(OneM2MClientError) -> RequestID in
                                    try c.createContentInstance(in: path, content: con, name: name == nil ? nil : rn)
                                }
                            }
                        }
                    }
                } else {
                    r = try client.perform { c throws(OneM2MClientError) in try c.create(under: to, type: type, contentJSON: Array(generatedContent().utf8)) }
                }
                return report(r, what)
            } catch { throw context.fail(error, what) }
        }

        /// The `pc` for the typed forms the SDK has no helper for (AE, unnamed container or
        /// subscription).
        func generatedContent() -> String {
            var members: [String] = []
            if let name { members.append("\"rn\":\(jsonString(name))") }
            switch type {
            case .ae:
                members.append("\"api\":\(jsonString(appID ?? ""))")
                members.append("\"rr\":true")
                members.append("\"srv\":[\"3\"]")
                return "{\"m2m:ae\":{\(members.joined(separator: ","))}}"
            case .subscription:
                members.append("\"nu\":[\(nu.map(jsonString).joined(separator: ","))]")
                members.append("\"enc\":{\"net\":[3]}")
                return "{\"m2m:sub\":{\(members.joined(separator: ","))}}"
            default:
                return "{\"m2m:cnt\":{\(members.joined(separator: ","))}}"
            }
        }
    }

    mutating func execute() throws(CLIError) -> Int32 {
        let pcBytes: [UInt8]? = try pc.map { (p) throws(CLIError) -> [UInt8] in try validatedJSONObject(p, option: "--pc") }
        var job = Job(to: to ?? common.cseName, type: type.type, typeName: type.name, name: name, content: content, nu: nu, appID: appID, pc: pcBytes)
        return try withConnectedClient(common, &job)
    }
}

// MARK: - retrieve, update, delete

struct Retrieve: CLICommand {
    static let configuration = CommandConfiguration(abstract: "RETRIEVE the resource --to (e.g. cse-in/myAE/data/la).")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The target resource.", valueName: "PATH"))
    var to: String

    mutating func execute() throws(CLIError) -> Int32 {
        var job = TargetJob(to: to, operation: .retrieve)
        return try withConnectedClient(common, &job)
    }
}

/// RETRIEVE, UPDATE or DELETE of the resource `to`: one job for the three commands.
struct TargetJob: ClientJob {
    enum Operation { case retrieve, update(pc: [UInt8]), delete }
    let to: String, operation: Operation

    mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32 {
        let (to, operation) = (self.to, self.operation)
        let what: String
        switch operation {
        case .retrieve: what = "retrieve \(to)"
        case .update: what = "update \(to)"
        case .delete: what = "delete \(to)"
        }
        do {
            return report(try client.perform { c throws(OneM2MClientError) in
                switch operation {
                case .retrieve: return try c.retrieve(to)
                case .update(let pc): return try c.update(to, contentJSON: pc)
                case .delete: return try c.delete(to)
                }
            }, what)
        } catch { throw context.fail(error, what) }
    }
}

struct Update: CLICommand {
    static let configuration = CommandConfiguration(abstract: "UPDATE the resource --to with the content --pc.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The target resource.", valueName: "PATH"))
    var to: String

    @Option(help: ArgumentHelp("The content as JSON, e.g. {\"m2m:cnt\":{\"mni\":10}}.", valueName: "JSON"))
    var pc: String

    func validate() throws {
        do { _ = try validatedJSONObject(pc, option: "--pc") } catch { throw ValidationError(error.message) }
    }

    mutating func execute() throws(CLIError) -> Int32 {
        var job = TargetJob(to: to, operation: .update(pc: try validatedJSONObject(pc, option: "--pc")))
        return try withConnectedClient(common, &job)
    }
}

struct Delete: CLICommand {
    static let configuration = CommandConfiguration(abstract: "DELETE the resource --to.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The target resource.", valueName: "PATH"))
    var to: String

    mutating func execute() throws(CLIError) -> Int32 {
        var job = TargetJob(to: to, operation: .delete)
        return try withConnectedClient(common, &job)
    }
}

// MARK: - deregister

struct Deregister: CLICommand {
    static let configuration = CommandConfiguration(
        abstract: "Deregister the AE --origin: DELETE it, then the TS-0010 6.3 MQTT clean-up (reconnect with Clean Session 1).")

    @OptionGroup var common: CommonOptions

    struct Job: ClientJob {
        mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32 {
            let what = "deregister \(context.options.originator)"
            do { return report(try client.deregister(timeoutMilliseconds: context.timeoutMilliseconds), what) }
            catch { throw context.fail(error, what) }
        }
    }

    mutating func execute() throws(CLIError) -> Int32 {
        guard common.origin != nil else { throw .usage("deregister needs --origin (the AE-ID to delete)") }
        var job = Job()
        return try withConnectedClient(common, &job)
    }
}
