import CAllocCounter

/// How many heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, ...) the
/// calling thread made while running `body`. Allocations on other threads (parallel tests,
/// Foundation's helper threads) are not counted.
///
/// Backed by CAllocCounter, which interposes the C allocator in the test executable. Keep
/// `#expect` and other test machinery outside `body`: they allocate.
public func allocations(during body: () throws -> Void) rethrows -> UInt64 {
    let before = calloc_counter_thread_allocations()
    try body()
    return calloc_counter_thread_allocations() &- before
}

/// The calling thread's allocation count so far (for before/after measurements that cannot
/// be written as a closure).
public func threadAllocationCount() -> UInt64 {
    calloc_counter_thread_allocations()
}

/// True once the interposed allocator has served at least one allocation in this process,
/// i.e. CAllocCounter is linked and active.
public var allocationCounterIsActive: Bool {
    calloc_counter_is_active() != 0
}
