// runtime.c: the C symbols that Embedded Swift needs on wasm32, and the allocator behind the
// module's exported `malloc`.
//
// Embedded Swift has no libc on wasm32-unknown-none-wasm. Its runtime calls `posix_memalign` and
// `free` for every object, array and string; the stack protector needs `__stack_chk_guard` and
// `__stack_chk_fail`; hashing (Dictionary, Set) seeds itself with `arc4random_buf`; `memcmp`
// backs byte comparisons; and `print` writes through `putchar`. Envoy, for its part, calls the
// exported `malloc` to place every value it hands the module (header values, body bytes).
//
// The allocator keeps one free list per size class. Classes go 16, 24, 32, 48, 64, 96, ... (two
// per power of two), so a block wastes at most a third of itself. A freed block goes back on its
// class's list and is reused by the next allocation of that class; memory is never returned to
// the host (WebAssembly memory cannot shrink), but it does not grow while the workload is steady.
//
// Build (see build.mk):
//   clang --target=wasm32-unknown-unknown -Os -ffreestanding -fno-builtin -nostdlib -c runtime.c
//
// Requires the bulk-memory feature (LLVM's default for wasm32 since LLVM 20): memcpy, memmove
// and memset below rely on __builtin_mem* lowering to memory.copy / memory.fill instructions
// instead of calling themselves.

typedef __SIZE_TYPE__ size_t;
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINTPTR_TYPE__ uintptr_t;

#define WASM_PAGE_SIZE 65536u
#define HEADER_SIZE 8u
#define CLASS_COUNT 55u
#define LIVE_MAGIC 0x51570000u  // "QW" in the high half, the class index in the low half
#define FREE_MAGIC 0x46524545u  // "FREE"
#define MAX_ALLOCATION (1u << 30)

// ---------------------------------------------------------------------------------------------
// Host imports used by the runtime itself.
// ---------------------------------------------------------------------------------------------

__attribute__((import_module("wasi_snapshot_preview1"), import_name("random_get")))
extern int wasi_random_get(uint8_t *buffer, size_t length);

__attribute__((import_module("env"), import_name("proxy_log")))
extern int runtime_proxy_log(uint32_t level, const char *message, size_t size);

// ---------------------------------------------------------------------------------------------
// The allocator.
// ---------------------------------------------------------------------------------------------

// The first byte after the linker's data and stack; everything above it is ours.
extern uint8_t __heap_base;

struct free_block {
    uint32_t magic;
    struct free_block *next;
};

static uintptr_t heap_next;   // the next byte the bump region hands out; 0 until first use
static uintptr_t heap_limit;  // the end of linear memory
static struct free_block *free_lists[CLASS_COUNT];
static size_t bytes_in_use;      // sum of the class sizes of live blocks
static size_t bytes_in_free_lists;
static size_t live_blocks;

static size_t class_size(uint32_t index) {
    size_t base = (size_t)16 << (index >> 1);
    return (index & 1) ? base + (base >> 1) : base;
}

// The smallest class whose blocks hold `size` bytes.
static uint32_t class_for(size_t size) {
    if (size <= 16) {
        return 0;
    }
    uint32_t log = 31u - (uint32_t)__builtin_clz((uint32_t)(size - 1));  // 2^log <= size-1
    size_t three_halves = ((size_t)3 << log) >> 1;
    if (size <= three_halves) {
        return 2 * (log - 4) + 1;
    }
    return 2 * (log + 1 - 4);
}

static uintptr_t align_up(uintptr_t value, uintptr_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

// Takes `size` bytes from the top of the heap, growing linear memory when needed.
static uintptr_t carve(size_t size) {
    if (heap_next == 0) {
        heap_next = align_up((uintptr_t)&__heap_base, 16);
        heap_limit = (uintptr_t)__builtin_wasm_memory_size(0) * WASM_PAGE_SIZE;
    }
    if (size > heap_limit || heap_next > heap_limit - size) {
        size_t missing = heap_next + size - heap_limit;
        size_t pages = (missing + WASM_PAGE_SIZE - 1) / WASM_PAGE_SIZE;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) {
            return 0;
        }
        heap_limit += pages * WASM_PAGE_SIZE;
    }
    uintptr_t block = heap_next;
    heap_next += size;
    return block;
}

static void *allocate(size_t alignment, size_t size) {
    if (size > MAX_ALLOCATION || alignment > 4096) {
        return 0;
    }
    size_t slack = alignment > HEADER_SIZE ? alignment : HEADER_SIZE;
    uint32_t index = class_for(size + slack);
    size_t block_size = class_size(index);

    uintptr_t block;
    struct free_block *reused = free_lists[index];
    if (reused) {
        free_lists[index] = reused->next;
        bytes_in_free_lists -= block_size;
        block = (uintptr_t)reused;
    } else {
        block = carve(block_size);
        if (block == 0) {
            return 0;
        }
    }

    uintptr_t payload = align_up(block + HEADER_SIZE, alignment > HEADER_SIZE ? alignment : HEADER_SIZE);
    uint32_t *header = (uint32_t *)(payload - HEADER_SIZE);
    header[0] = LIVE_MAGIC | index;
    header[1] = (uint32_t)(payload - block);
    bytes_in_use += block_size;
    live_blocks += 1;
    return (void *)payload;
}

void free(void *pointer) {
    if (pointer == 0) {
        return;
    }
    uint32_t *header = (uint32_t *)((uintptr_t)pointer - HEADER_SIZE);
    uint32_t word = header[0];
    uint32_t index = word & 0xffffu;
    if ((word & 0xffff0000u) != LIVE_MAGIC || index >= CLASS_COUNT) {
        // A double free or a pointer this allocator never returned: stop before the heap rots.
        static const char message[] = "proxy-wasm runtime: free() of an invalid pointer";
        runtime_proxy_log(5, message, sizeof(message) - 1);
        __builtin_trap();
    }
    struct free_block *block = (struct free_block *)((uintptr_t)pointer - header[1]);
    size_t block_size = class_size(index);
    header[0] = FREE_MAGIC;
    block->magic = FREE_MAGIC;
    block->next = free_lists[index];
    free_lists[index] = block;
    bytes_in_use -= block_size;
    bytes_in_free_lists += block_size;
    live_blocks -= 1;
}

__attribute__((export_name("malloc")))
void *malloc(size_t size) {
    return allocate(HEADER_SIZE, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) {
        return 22;  // EINVAL
    }
    void *pointer = allocate(alignment, size);
    if (pointer == 0) {
        return 12;  // ENOMEM
    }
    *result = pointer;
    return 0;
}

// Read by the Swift side (`HeapStatistics.current`).
void proxy_wasm_heap_statistics(uint32_t *in_use, uint32_t *cached, uint32_t *linear_memory,
                                uint32_t *blocks) {
    *in_use = (uint32_t)bytes_in_use;
    *cached = (uint32_t)bytes_in_free_lists;
    *linear_memory = (uint32_t)__builtin_wasm_memory_size(0) * WASM_PAGE_SIZE;
    *blocks = (uint32_t)live_blocks;
}

// ---------------------------------------------------------------------------------------------
// Memory primitives. `-fno-builtin` keeps clang from turning these bodies into calls to
// themselves; the __builtin_ forms become bulk-memory instructions.
// ---------------------------------------------------------------------------------------------

void *memcpy(void *restrict destination, const void *restrict source, size_t count) {
    __builtin_memcpy(destination, source, count);
    return destination;
}

void *memmove(void *destination, const void *source, size_t count) {
    __builtin_memmove(destination, source, count);
    return destination;
}

void *memset(void *destination, int value, size_t count) {
    __builtin_memset(destination, value, count);
    return destination;
}

int memcmp(const void *left, const void *right, size_t count) {
    const uint8_t *a = left;
    const uint8_t *b = right;
    for (size_t i = 0; i < count; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return 0;
}

// Swift checks 64-bit multiplications for overflow with a 128-bit multiply, which wasm32 has no
// instruction for; LLVM calls this compiler-rt builtin instead. Computed from 32-bit halves so
// that clang does not turn the body into a call to itself.
typedef __UINT64_TYPE__ uint64_t;
typedef unsigned __int128 uint128_t;

static uint128_t multiply_64x64(uint64_t a, uint64_t b) {
    uint64_t a_low = a & 0xffffffffu, a_high = a >> 32;
    uint64_t b_low = b & 0xffffffffu, b_high = b >> 32;
    uint64_t low_low = a_low * b_low;
    uint64_t high_low = a_high * b_low;
    uint64_t low_high = a_low * b_high;
    uint64_t high_high = a_high * b_high;
    uint64_t middle = (low_low >> 32) + (high_low & 0xffffffffu) + (low_high & 0xffffffffu);
    uint64_t low = (middle << 32) | (low_low & 0xffffffffu);
    uint64_t high = high_high + (high_low >> 32) + (low_high >> 32) + (middle >> 32);
    return ((uint128_t)high << 64) | low;
}

__int128 __multi3(__int128 a, __int128 b) {
    uint128_t ua = (uint128_t)a, ub = (uint128_t)b;
    uint64_t a_low = (uint64_t)ua, a_high = (uint64_t)(ua >> 64);
    uint64_t b_low = (uint64_t)ub, b_high = (uint64_t)(ub >> 64);
    uint128_t result = multiply_64x64(a_low, b_low);
    uint64_t high = (uint64_t)(result >> 64) + a_high * b_low + a_low * b_high;
    return (__int128)(((uint128_t)high << 64) | (uint64_t)result);
}

// ---------------------------------------------------------------------------------------------
// Stack protector, randomness, and `print`.
// ---------------------------------------------------------------------------------------------

uintptr_t __stack_chk_guard = 0x2f8c61d5u;

__attribute__((noreturn))
void __stack_chk_fail(void) {
    static const char message[] = "proxy-wasm runtime: stack smashing detected";
    runtime_proxy_log(5, message, sizeof(message) - 1);
    __builtin_trap();
}

// Seeds Swift's hashing. Envoy implements WASI random_get; should it ever fail, hashing still
// works with a fixed seed, only without protection against crafted collisions.
void arc4random_buf(void *buffer, size_t count) {
    if (wasi_random_get((uint8_t *)buffer, count) != 0) {
        uint8_t *bytes = buffer;
        for (size_t i = 0; i < count; i++) {
            bytes[i] = (uint8_t)(0x9e + 31 * i);
        }
    }
}

// Embedded Swift's `print` writes one character at a time. Collect a line and send it to
// Envoy's log at info level.
static char line[512];
static size_t line_length;

int putchar(int character) {
    if (character != '\n') {
        line[line_length++] = (char)character;
    }
    if (character == '\n' || line_length == sizeof(line)) {
        runtime_proxy_log(2, line, line_length);
        line_length = 0;
    }
    return character;
}
