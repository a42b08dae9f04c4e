import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Proves that CAllocCounter is linked into the test binary, interposes the allocator, and
/// counts per thread, so allocation-free assertions elsewhere mean something.
@Suite("Allocation counter")
struct AllocCounterTests {
    final class Box {
        var value: Int
        init(_ value: Int) { self.value = value }
    }

    @Test func countsAFreshClassInstance() {
        var kept: Box?
        let count = allocations { kept = Box(42) }
        #expect(count >= 1)
        #expect(kept?.value == 42)
        #expect(allocationCounterIsActive)
    }

    @Test func countsArrayGrowth() {
        var array: [Int] = []
        let count = allocations {
            for i in 0..<1_000 { array.append(i) }
        }
        // Growing from empty to 1,000 elements reallocates the buffer several times.
        #expect(count >= 2)
        #expect(array.count == 1_000)
    }

    @Test func pureArithmeticAllocatesNothing() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let count = allocations {
            for i in 0..<200_000 {
                state = state &* 6_364_136_223_846_793_005 &+ UInt64(i)
            }
        }
        #expect(count == 0)
        #expect(state != 0x9E37_79B9_7F4A_7C15)
    }

    @Test func countsEachCAllocatorEntryPointExactlyOnce() {
        var pointer: UnsafeMutableRawPointer?
        #expect(allocations { pointer = malloc(64) } == 1)
        #expect(allocations { pointer = realloc(pointer, 4096) } == 1)
        free(pointer)

        #expect(allocations { pointer = calloc(4, 16) } == 1)
        free(pointer)

        #expect(allocations { pointer = aligned_alloc(64, 128) } == 1)
        #expect(Int(bitPattern: pointer) % 64 == 0)
        free(pointer)

        var aligned: UnsafeMutableRawPointer?
        #expect(allocations { _ = posix_memalign(&aligned, 128, 256) } == 1)
        #expect(Int(bitPattern: aligned) % 128 == 0)
        free(aligned)

        #expect(allocations { free(malloc(8)) } == 1)
    }

    @Test func countsSwiftRuntimeAllocations() {
        var raw: UnsafeMutableRawPointer?
        // swift_slowAlloc: malloc for small alignments, an aligned allocator for large ones.
        #expect(allocations { raw = UnsafeMutableRawPointer.allocate(byteCount: 100, alignment: 8) } == 1)
        raw?.deallocate()
        #expect(allocations { raw = UnsafeMutableRawPointer.allocate(byteCount: 100, alignment: 256) } == 1)
        #expect(Int(bitPattern: raw) % 256 == 0)
        raw?.deallocate()
    }

    final class Progress: Sendable {
        let iterations = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let sink = Atomic<Int>(0)
        let otherThreadAllocations = Atomic<Int>(-1)
    }

    @Test func otherThreadsDoNotDisturbTheCount() {
        let progress = Progress()
        let thread = Thread {
            let before = threadAllocationCount()
            while !progress.stop.load(ordering: .acquiring) {
                let p = malloc(32)
                progress.sink.store(Int(bitPattern: p), ordering: .relaxed)  // escapes: not elided
                free(p)
                progress.iterations.add(1, ordering: .releasing)
            }
            progress.otherThreadAllocations.store(Int(threadAllocationCount() - before), ordering: .releasing)
        }
        thread.start()
        // Wait (outside the measurement) until the other thread is allocating.
        while progress.iterations.load(ordering: .acquiring) == 0 {}

        var spins: UInt64 = 0
        let count = allocations {
            // Spin until the other thread has provably allocated 1,000 more times meanwhile.
            let start = progress.iterations.load(ordering: .acquiring)
            while progress.iterations.load(ordering: .acquiring) - start < 1_000 { spins &+= 1 }
        }
        progress.stop.store(true, ordering: .releasing)
        while progress.otherThreadAllocations.load(ordering: .acquiring) < 0 {}

        #expect(count == 0)
        #expect(progress.otherThreadAllocations.load(ordering: .acquiring) >= 1_000)
    }
}
