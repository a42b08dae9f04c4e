import ArgumentParser
import MQTTClient
import OneM2M
import OneM2MClient
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by the SIGINT handler, read by the poll loop (a lock-free atomic: async-signal-safe).
let interrupted = Atomic<Bool>(false)

/// Installs the SIGINT handler and makes sure SIGINT is not blocked (a parent may have blocked
/// or ignored it).
func installInterruptHandler() {
    _ = signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    _ = pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

struct Listen: CLICommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve requests addressed to --origin: answer NOTIFYs (and verification requests) with 2000 and print each request primitive as one JSON line.",
        discussion: "Stops after --count requests, or on SIGINT (Ctrl-C), after a clean MQTT disconnect (exit 0). Reconnects by itself if the connection is lost.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Stop after N incoming requests.", valueName: "N"))
    var count: Int?

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    struct Job: ClientJob {
        let count: Int?
        var reconnects: Bool { true }

        mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32 {
            let limit = count ?? Int.max
            var received = 0
            writeErr("onem2m: listening as \(context.options.originator) on \(context.endpoint.text) (Ctrl-C to stop)\n")
            while received < limit && !interrupted.load(ordering: .relaxed) {
                do {
                    // Short polls so SIGINT is noticed quickly (the transport retries EINTR).
                    try client.poll(timeoutMilliseconds: 100) { event in
                        switch event {
                        case .request(let r):
                            guard received < limit else { return nil }  // answered, not printed
                            received += 1
                            printJSONLine(r.primitive.document.bytes)
                            // NOTIFY (verification requests included): 2000. Anything else: the
                            // SDK's default, 4005 (an ADN-AE hosts no resources).
                            return r.primitive.operation == .notify ? .ok : nil
                        case .requestRejected(let rsc):
                            writeErr("onem2m: answered an undecodable or expired request with rsc \(rsc.rawValue)\n")
                        case .answerFailed(let e):
                            writeErr("onem2m: could not answer a request: \(e.summary)\n")
                        case .mqtt(.disconnected(let e, let retry)):
                            writeErr("onem2m: connection lost (\(e.summary)); reconnecting in \(retry) ms\n")
                        default:
                            break
                        }
                        return nil
                    }
                } catch {
                    throw context.fail(error, "listening on \(context.endpoint.text)")
                }
            }
            // connectAndRun disconnects cleanly (the last answers are flushed first).
            return Status.ok
        }
    }

    mutating func execute() throws(CLIError) -> Int32 {
        installInterruptHandler()
        var job = Job(count: count)
        return try withConnectedClient(common, &job)
    }
}
