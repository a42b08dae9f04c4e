// SensorDaemon: a small oneM2M device daemon over MQTT (TS-0010) to copy from.
//
//   swift run SensorDaemon --broker mqtt://127.0.0.1:1883 --origin Csensor1 --name sensor-1 \
//                          --interval 5 --readings 0
//
// Life cycle:
//   1. connect to the broker (client id `A::<origin>`, Clean Session 0, TS-0010 6.3);
//   2. register the AE (`poa` = the broker URL, so the CSE knows where to send notifications);
//   3. create the container `readings` and a subscription on it whose `nu` is our own AE-ID
//      (plain AE-ID: ACME looks up our poa and publishes to /oneM2M/req/<cse>/<AE-ID>/json;
//      since nu = the originator, ACME sends no verification request);
//   4. every --interval seconds post a reading (`createContentInstance`, non-blocking), and in
//      between `poll`: responses, notifications and reconnects arrive there;
//   5. after --readings N readings, or on SIGINT/SIGTERM: wait briefly for outstanding
//      answers, deregister (DELETE the AE, then the TS-0010 6.3 MQTT clean-up) and exit 0.
//
// If the broker goes away, the SDK reconnects by itself with back-off; readings posted
// meanwhile are kept in the MQTT session's store and sent once the connection is back.
//
// Output, one short line per event:
//   registered Csensor1 as sensor-1
//   reading 1 -> 2001
//   notification: seq 1 t=21.4
//   deregistered
//
// Exit status: 0 clean run; 1 the CSE refused something; 2 bad command line; 3 broker
// unreachable / MQTT failure; 4 the CSE did not answer.

import OneM2M
import OneM2MClient

#if canImport(Glibc)
import Glibc
#endif

installSignalHandlers()
exit(runDaemon(Options.parse(CommandLine.arguments)))

/// The whole daemon; returns the exit status.
func runDaemon(_ options: Options) -> Int32 {
    let aePath = "\(options.cseName)/\(options.name)"  // structured resource paths
    let containerPath = "\(aePath)/readings"

    // MARK: Connect

    var client = connect(options)
    say("connected to \(options.broker) as A::\(options.origin)")
    let clock = client.mqtt.clock

    // MARK: Set-up: AE, container, subscription (blocking requests, fine at start-up)

    let register = { (c: inout PosixOneM2MClient) throws(OneM2MClientError) -> RequestID in
        try c.registerAE(appID: "Nsensor-daemon", name: options.name, pointOfAccess: [options.broker])
    }
    var registration = perform(&client, "registration", register)
    if registration.statusCode == .originatorAlreadyRegistered {
        // 4117: an earlier run with this AE-ID died without deregistering. That was us: remove
        // the stale AE (and everything under it) and register afresh.
        say("\(options.origin) is still registered from an earlier run: deleting it")
        _ = perform(&client, "deleting the stale AE") { c throws(OneM2MClientError) in try c.delete(options.origin) }
        registration = perform(&client, "registration", register)
    }
    guard registration.statusCode == .created else {
        client.disconnect()
        fail(ExitCode.rejected, "registration -> \(registration.statusCode.rawValue)\(debugText(registration))")
    }
    say("registered \(options.origin) as \(options.name)")

    let container = perform(&client, "container") { c throws(OneM2MClientError) in
        try c.createContainer(under: aePath, name: "readings")
    }
    say("container readings -> \(container.statusCode.rawValue)")
    guard container.statusCode == .created else {
        return abandon(&client, "creating the container failed\(debugText(container))")
    }

    // `nu` = our AE-ID, plain (not `/id-in/...`: SP-relative IDs loop inside ACME). `net` 3:
    // notify on the creation of a child, i.e. of every new reading.
    let subscription = perform(&client, "subscription") { c throws(OneM2MClientError) in
        try c.createSubscription(under: containerPath, name: "readings-sub", notificationURIs: [options.origin], eventTypes: [3])
    }
    say("subscription -> \(subscription.statusCode.rawValue)")
    guard subscription.statusCode == .created else {
        return abandon(&client, "creating the subscription failed\(debugText(subscription))")
    }

    // MARK: The loop

    var log = EventLog()
    var exitCode = ExitCode.ok
    // Clock readings wrap on 32-bit boards (every 24.8 days): compare their differences (`&-`).
    var nextReadingAt = clock.nowMilliseconds()  // the first one right away
    var delayReported = false

    mainLoop: while true {
        let signal = stopSignal.load(ordering: .relaxed)
        if signal != 0 {
            say("signal \(signal): stopping")
            break
        }
        var now = clock.nowMilliseconds()
        let moreToPost = options.readings == 0 || log.posted < options.readings

        // Post a reading when it is due. Non-blocking: the request is written into the MQTT
        // session (sent now, or stored while the broker is away); the answer comes via poll.
        if moreToPost && now &- nextReadingAt >= 0 {
            let sequence = log.posted + 1
            let content = readingContent(Temperature(seed: options.seed, sequence: sequence), sequence: sequence)
            do {
                let id = try client.createContentInstance(in: containerPath, content: content)
                log.outstanding.append((id, sequence))
                log.posted = sequence
                delayReported = false
                // Keep a steady rhythm; after a long stall start again from now, no burst.
                nextReadingAt &+= options.intervalMilliseconds
                if nextReadingAt &- now < 0 { nextReadingAt = now &+ options.intervalMilliseconds }
            } catch {
                switch error {
                case .tooManyPendingRequests, .mqtt(.session(.busy)):
                    // Full for now (many unanswered requests, or the session store is full
                    // while the broker is away): try the same reading again shortly.
                    if !delayReported { say("reading \(sequence) delayed: \(error.summary)") }
                    delayReported = true
                    nextReadingAt = now &+ min(options.intervalMilliseconds, 250)
                default:
                    say("reading \(sequence) failed: \(error.summary) (\(error))")
                    exitCode = ExitCode.broker
                    break mainLoop
                }
            }
        }

        // Done after N readings once every answer is in and the notifications had a moment
        // to arrive (they may come before or after the answer to the CREATE).
        if !moreToPost && log.outstanding.isEmpty && (log.notified >= log.posted || now &- log.lastAnswerAt >= 1_000) {
            break
        }

        // Poll until the next reading is due, in slices of at most 100 ms so that a signal is
        // noticed quickly (the SDK's poll resumes its wait after a signal).
        now = clock.nowMilliseconds()
        let untilNext = moreToPost ? max(0, nextReadingAt &- now) : 100
        do {
            try client.poll(timeoutMilliseconds: Int(min(untilNext, 100))) { event in
                log.handle(event, now: clock.nowMilliseconds())
            }
        } catch {
            // poll throws only when there is no connection and none will be made.
            say("connection failed for good: \(error.summary) (\(error))")
            exitCode = ExitCode.broker
            break
        }
    }

    // MARK: Shut down

    // Give readings in flight a moment to be answered, then deregister.
    let drainUntil = clock.nowMilliseconds() &+ 2_000
    while !log.outstanding.isEmpty && log.connected && drainUntil &- clock.nowMilliseconds() > 0 {
        _ = try? client.poll(timeoutMilliseconds: 100) { event in log.handle(event, now: clock.nowMilliseconds()) }
    }
    say("deregistering (\(log.posted) readings posted, \(log.stored) stored, \(log.notified) notified)")
    do {
        // DELETE of the AE (the CSE removes the container and subscription with it), then the
        // TS-0010 6.3 clean-up: reconnect with Clean Session = 1 and disconnect.
        let response = try client.deregister()
        guard response.statusCode == .deleted else {
            fail(ExitCode.rejected, "deregistration -> \(response.statusCode.rawValue)\(debugText(response))")
        }
    } catch {
        client.disconnect()
        fail(error == .timedOut ? ExitCode.noResponse : ExitCode.broker, "deregistration failed: \(error.summary) (\(error))")
    }
    say("deregistered")
    if log.refused > 0 && exitCode == ExitCode.ok { exitCode = ExitCode.rejected }
    return exitCode
}

// MARK: - Helpers

/// A client for our AE, connected: MQTT CONNECT with client id `A::<origin>` and Clean
/// Session 0 (TS-0010 6.3), then SUBSCRIBE to the topics where the CSE answers us and sends us
/// requests. The defaults of `OneM2MConfiguration` match ACME (JSON with the `/json` topic
/// suffix, release 3, 10 s request timeout).
func connect(_ options: Options) -> PosixOneM2MClient {
    do {
        let configuration = OneM2MConfiguration(cseID: options.cseID, cseName: options.cseName, originator: options.origin)
        var client = try PosixOneM2MClient(configuration: configuration, host: options.host, port: options.port)
        try client.connect()
        return client
    } catch {
        fail(ExitCode.broker, "cannot connect to \(options.broker): \(error.summary) (\(error))")
    }
}

/// One blocking request (`perform` polls until its answer arrives). Exits when the CSE does
/// not answer or the connection fails.
func perform(
    _ client: inout PosixOneM2MClient, _ what: String,
    _ request: (inout PosixOneM2MClient) throws(OneM2MClientError) -> RequestID
) -> OneM2MResponse {
    do {
        return try client.perform(request)
    } catch {
        fail(error == .timedOut ? ExitCode.noResponse : ExitCode.broker, "\(what): \(error.summary) (\(error))")
    }
}

/// Deregisters after a failed set-up step; returns the exit status.
func abandon(_ client: inout PosixOneM2MClient, _ message: String) -> Int32 {
    say("SensorDaemon: \(message)", to: STDERR_FILENO)
    _ = try? client.deregister()
    return ExitCode.rejected
}

/// The response's `m2m:dbg` text, if the CSE explained an error.
func debugText(_ r: OneM2MResponse) -> String {
    r.withView { v in v.debugMessage.map { " (" + String(decoding: Array($0), as: UTF8.self) + ")" } ?? "" } ?? ""
}

/// What the loop keeps track of, and what it prints for each event `poll` reports.
struct EventLog {
    /// Readings sent and not yet answered: the request's id and the reading's number.
    var outstanding: [(id: RequestID, sequence: Int)] = []
    var posted = 0  // readings handed to the SDK
    var stored = 0  // readings the CSE stored (2001)
    var refused = 0  // readings the CSE answered with an error
    var notified = 0  // notifications about our readings
    var lastAnswerAt: Int = 0
    var connected = true

    /// The return value answers requests sent *to* us: nil means the SDK's default (2000 for
    /// a NOTIFY, 4005 for anything else: an ADN-AE hosts no resources).
    mutating func handle(_ event: OneM2MEvent, now: Int) -> ResponseStatusCode? {
        switch event {
        case .response(let id, let response):
            guard let sequence = answer(id, now: now) else { return nil }
            if response.statusCode == .created { stored += 1 } else { refused += 1 }
            say("reading \(sequence) -> \(response.statusCode.rawValue)")
        case .requestTimedOut(let id):
            guard let sequence = answer(id, now: now) else { return nil }
            // The reading itself is not lost: QoS 1 keeps it until the broker has it. Only its
            // answer, if one comes, will arrive as `unmatchedResponse`.
            say("reading \(sequence) -> no response in time (the reading is kept and sent when possible)")
        case .unmatchedResponse(let response):
            say("late response -> \(response.map { String($0.statusCode.rawValue) } ?? "undecodable")")
        case .request(let request):
            guard let notification = request.notification else { return nil }
            if notification.isVerificationRequest {
                say("verification request: accepted")
            } else if notification.isSubscriptionDeletion {
                say("notification: subscription deleted")
            } else if let con = notification.eventRepresentation?["m2m:cin"]?["con"]?.text,
                let reading = parseReading(Array(con))  // Array(con) unescapes the JSON string
            {
                notified += 1
                say("notification: seq \(reading.sequence) t=\(reading.temperature)")
            } else {
                say("notification: (not one of our readings)")
            }
            return .ok
        case .requestRejected(let status):
            say("incoming request rejected -> \(status.rawValue)")
        case .answerFailed(let error):
            say("could not answer a notification: \(error.summary)")
        case .mqtt(.disconnected(let error, let retry)):
            if connected { say("broker connection lost (\(error.summary)); \(retry >= 0 ? "reconnecting" : "giving up")") }
            connected = false
        case .mqtt(.session(.connected(let sessionPresent))):
            // The SDK has re-subscribed already if the broker forgot us, and stored readings
            // are being sent again.
            if !connected { say("reconnected (the broker kept our session: \(sessionPresent))") }
            connected = true
        case .mqtt:
            break
        }
        return nil
    }

    /// Takes a reading off the outstanding list; its number, or nil if the id is not a reading.
    mutating func answer(_ id: RequestID, now: Int) -> Int? {
        guard let i = outstanding.firstIndex(where: { $0.id == id }) else { return nil }
        lastAnswerAt = now
        return outstanding.remove(at: i).sequence
    }
}
