import ArgumentParser
import MQTTClient
import OneM2M
import OneM2MClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The monotonic clock in nanoseconds (no allocation).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

struct Bench: CLICommand {
    static let configuration = CommandConfiguration(
        abstract: "Create --requests contentInstances in --to with --in-flight requests outstanding; print throughput and latency.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The container to create contentInstances in.", valueName: "PATH"))
    var to: String

    @Option(help: ArgumentHelp("How many requests.", valueName: "N"))
    var requests: Int = 1000

    @Option(name: .customLong("in-flight"), help: ArgumentHelp("Requests outstanding at once.", valueName: "W"))
    var inFlight: Int = 1

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard requests >= 1, requests <= 10_000_000 else { throw ValidationError("--requests must be between 1 and 10000000") }
        guard inFlight >= 1, inFlight <= 1024 else { throw ValidationError("--in-flight must be between 1 and 1024") }
    }

    struct Result {
        var requests = 0, inFlight = 0
        var seconds = 0.0
        var failures = 0  // non-2xxx responses
        var timeouts = 0
        var p50Milliseconds = 0.0, p99Milliseconds = 0.0
        /// The distinct non-2xxx codes seen and how often (at most `Job.distinctCodes`).
        var failureCodes: [(code: UInt16, count: Int)] = []
        var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }
    }

    struct Job: ClientJob {
        let to: String, requests: Int, inFlight: Int
        var result = Result()
        static let distinctCodes = 8

        func configure(_ c: inout OneM2MConfiguration) {
            // Exactly `inFlight` requests await responses; the MQTT layer must hold as many
            // unacknowledged publications (plus room for answers to incoming requests).
            c.maximumPendingRequests = inFlight
            c.capacities.inflight = max(c.capacities.inflight, inFlight + 8)
            c.capacities.storeBytes = max(c.capacities.storeBytes, (inFlight + 8) * 1024)
            c.capacities.transmitBytes = max(c.capacities.transmitBytes, (inFlight + 8) * 1024)
        }

        mutating func run<T: Transport>(_ client: inout CLIClient<T>, _ context: JobContext) throws(CLIError) -> Int32 {
            let n = requests, w = inFlight
            // Everything the loop touches is allocated here, before it starts.
            let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
            let slotRequest = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: w)
            let slotStart = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: w)
            let slotBusy = UnsafeMutableBufferPointer<Bool>.allocate(capacity: w)
            slotBusy.initialize(repeating: false)
            slotRequest.initialize(repeating: 0)
            slotStart.initialize(repeating: 0)
            latencies.initialize(repeating: 0)
            let codes = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: Self.distinctCodes)
            let codeCounts = UnsafeMutableBufferPointer<Int>.allocate(capacity: Self.distinctCodes)
            codes.initialize(repeating: 0)
            codeCounts.initialize(repeating: 0)
            defer {
                latencies.deallocate(); slotRequest.deallocate(); slotStart.deallocate(); slotBusy.deallocate()
                codes.deallocate(); codeCounts.deallocate()
            }
            let path = Array(to.utf8)
            var sent = 0, completed = 0, samples = 0, outstanding = 0, failures = 0, timeouts = 0
            var loopError: OneM2MClientError? = nil
            let began = monotonicNanoseconds()
            path.withUnsafeBytes { pathBytes in
                let container = ByteString(pathBytes)
                let content: ByteString = "21.5"
                while completed < n {
                    // Keep exactly W requests outstanding; a burst of requests leaves in one write.
                    client.holdingOutput { (client: inout CLIClient<T>) in
                        while sent < n && outstanding < w {
                            let id: RequestID
                            do throws(OneM2MClientError) {
                                id = try client.createContentInstance(in: container, content: content)
                            } catch .mqtt(.session(.busy)) {
                                break  // the transmit buffer is full: poll, then go on
                            } catch {
                                loopError = error
                                return
                            }
                            var slot = 0
                            while slotBusy[slot] { slot += 1 }
                            slotBusy[slot] = true
                            slotRequest[slot] = id.value
                            slotStart[slot] = monotonicNanoseconds()
                            sent += 1
                            outstanding += 1
                        }
                    }
                    if loopError != nil { return }
                    do throws(OneM2MClientError) {
                        try client.poll(timeoutMilliseconds: 1000) { event in
                            let id: RequestID
                            var ok = false
                            switch event {
                            case .response(let r, let view):
                                id = r
                                ok = true
                                if !view.statusCode.isSuccess {
                                    failures += 1
                                    let code = view.statusCode.rawValue
                                    var k = 0
                                    while k < Self.distinctCodes && codes[k] != 0 && codes[k] != code { k += 1 }
                                    if k < Self.distinctCodes {
                                        codes[k] = code
                                        codeCounts[k] += 1
                                    }
                                }
                            case .requestTimedOut(let r):
                                id = r
                                timeouts += 1
                            default:
                                return nil
                            }
                            let now = monotonicNanoseconds()
                            var slot = 0
                            while slot < w {
                                if slotBusy[slot] && slotRequest[slot] == id.value { break }
                                slot += 1
                            }
                            guard slot < w else { return nil }
                            slotBusy[slot] = false
                            if ok {
                                latencies[samples] = now &- slotStart[slot]
                                samples += 1
                            }
                            outstanding -= 1
                            completed += 1
                            return nil
                        }
                    } catch {
                        loopError = error
                        return
                    }
                }
            }
            let ended = monotonicNanoseconds()
            if let loopError { throw context.fail(loopError, "bench after \(completed) of \(n) responses") }

            var measured = UnsafeMutableBufferPointer(rebasing: latencies[0..<samples])
            measured.sort()
            func percentile(_ p: Double) -> Double {
                guard samples > 0 else { return 0 }
                let rank = max(1, Int((p * Double(samples)).rounded(.up)))
                return Double(measured[min(samples, rank) - 1]) / 1_000_000
            }
            result = Result(
                requests: n, inFlight: w, seconds: Double(ended &- began) / 1_000_000_000,
                failures: failures, timeouts: timeouts, p50Milliseconds: percentile(0.50), p99Milliseconds: percentile(0.99))
            for k in 0..<Self.distinctCodes where codes[k] != 0 { result.failureCodes.append((codes[k], codeCounts[k])) }
            return Status.ok
        }
    }

    mutating func execute() throws(CLIError) -> Int32 {
        var job = Job(to: to, requests: requests, inFlight: inFlight)
        _ = try withConnectedClient(common, &job)
        let r = job.result
        if json {
            writeOut(
                "{\"requests\":\(r.requests),\"inFlight\":\(r.inFlight),\"seconds\":\(fixed(r.seconds, 3)),"
                    + "\"requestsPerSecond\":\(fixed(r.requestsPerSecond, 1)),\"latencyP50Ms\":\(fixed(r.p50Milliseconds, 3)),"
                    + "\"latencyP99Ms\":\(fixed(r.p99Milliseconds, 3)),\"non2xxx\":\(r.failures),\"timeouts\":\(r.timeouts),"
                    + "\"non2xxxByRsc\":{\(r.failureCodes.map { "\"\($0.code)\":\($0.count)" }.joined(separator: ","))}}\n")
        } else {
            writeOut("\(r.requests) requests, \(r.inFlight) in flight: \(fixed(r.requestsPerSecond, 1)) req/s\n")
            writeOut("latency p50 \(fixed(r.p50Milliseconds, 2)) ms, p99 \(fixed(r.p99Milliseconds, 2)) ms\n")
            let byCode = r.failureCodes.isEmpty ? "" : " (" + r.failureCodes.map { "rsc \($0.code) x\($0.count)" }.joined(separator: ", ") + ")"
            writeOut("\(r.failures) non-2xxx responses\(byCode), \(r.timeouts) timeouts\n")
        }
        if r.timeouts > 0 {
            writeErr("onem2m: error: bench: \(r.timeouts) of \(r.requests) requests got no response within \(formatSeconds(common.timeoutMilliseconds)) s\n")
            return Status.connection
        }
        if r.failures > 0 {
            writeErr("onem2m: error: bench: \(r.failures) of \(r.requests) responses were not 2xxx\n")
            return Status.rejected
        }
        return Status.ok
    }
}

/// `value` with exactly `digits` decimals (no Foundation formatting).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    guard abs(value * scale) < 9e15 else { return String(value) }  // never trap converting to Int64
    let scaled = Int64((value * scale).rounded())
    let whole = scaled / Int64(scale)
    var frac = String(abs(scaled % Int64(scale)))
    while frac.count < digits { frac = "0" + frac }
    let sign = scaled < 0 && whole == 0 ? "-" : ""
    return digits == 0 ? "\(whole)" : "\(sign)\(whole).\(frac)"
}
