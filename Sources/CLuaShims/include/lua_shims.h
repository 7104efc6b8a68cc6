// The C half of Moonwire's Lua layer: the allocator with a memory cap, the instruction-count hook
// with a CPU budget and deadline, protected calls with a traceback, the sandbox, and the trampoline
// through which Lua calls Swift. Lua errors are raised only here, in C frames, never through Swift.
#ifndef MOONWIRE_LUA_SHIMS_H
#define MOONWIRE_LUA_SHIMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct lua_State lua_State;

/// Why the last protected call stopped early.
enum mw_stop_reason {
    MW_STOP_NONE = 0,
    MW_STOP_MEMORY = 1,
    MW_STOP_BUDGET = 2,
    MW_STOP_DEADLINE = 3,
};

/// Per-state accounting, passed to the allocator as its userdata.
typedef struct mw_limits {
    size_t used;              // bytes allocated now
    size_t peak;              // most bytes ever allocated
    size_t limit;             // memory cap in bytes (0: none)
    int enforce;              // >0 while Lua code runs under our pcall: the cap applies
    int killed;               // the current call hit a limit; every further instruction raises
    int stop_reason;          // enum mw_stop_reason for the current call
    int64_t budget;           // instructions left in this call
    int64_t budget_per_call;  // instructions allowed per call (0: unlimited)
    int hook_step;            // instructions between hook checks
    uint64_t deadline_ns;     // CLOCK_MONOTONIC deadline of this call (0: none)
    uint64_t call_timeout_ns; // deadline length per call (0: none)
    lua_State *root;          // the coroutine `mw_resume` runs (host functions called on it may yield)
} mw_limits;

/// The function Lua calls for every Swift host function: returns the number of results, `MW_HOST_ERROR`
/// with an error value on the top of the stack (the trampoline then raises it), or `MW_HOST_OUT_OF_MEMORY`
/// when a result would not fit under the state's memory cap (the trampoline raises a memory error).
typedef int (*mw_host_dispatch)(lua_State *L, int function_id, void *context);

#define MW_HOST_ERROR (-1)
#define MW_HOST_NO_DISPATCHER (-2)
#define MW_HOST_OUT_OF_MEMORY (-3)
/// The host function asked to wait: the trampoline yields the coroutine `mw_resume` runs.
#define MW_HOST_YIELD (-4)

/// Registry name of the metatable that marks tables as JSON arrays (`hub.array`).
#define MW_ARRAY_METATABLE "moonwire.array"

/// Installs the Swift dispatcher (once per process).
void mw_set_dispatch(mw_host_dispatch dispatch);

/// A new state whose allocations are counted in `limits`; NULL if out of memory.
lua_State *mw_newstate(mw_limits *limits);

/// Stops the call running on `L` at its next Lua instruction, as if its deadline had passed. Safe from
/// another thread (the `lua` command's Ctrl-C does the same); a call stuck inside a C function is not
/// reached until that function returns.
void mw_interrupt(lua_State *L);

/// Closes a state (runs finalizers).
void mw_close(lua_State *L);

/// Opens the sandboxed standard library: base (without load, loadfile, dofile, collectgarbage, rawset,
/// print), string (without dump), table, math, utf8, coroutine; protects the string metatable.
/// Returns a Lua status code; an error message is left on the stack when it is not LUA_OK.
int mw_open_sandbox(lua_State *L);

/// Loads `source` as text only (never bytecode) under `chunkname`. Status code; on error the message is on the stack.
int mw_load_text(lua_State *L, const char *source, size_t length, const char *chunkname);

/// Calls the function below `nargs` arguments under the limits, with a traceback on error.
/// Returns a Lua status code; on error the message (with traceback) is on the stack and
/// `limits->stop_reason` tells whether a limit stopped it.
int mw_pcall(lua_State *L, int nargs, int nresults);

/// Runs the coroutine `co` (a thread of `L`'s state) under the limits, like `mw_pcall`, until it returns,
/// fails or yields because a host function asked to wait (`MW_HOST_YIELD`). `fresh` starts the call's
/// CPU budget and deadline; otherwise the caller restored them into the limits. `nargs` values on `co`'s
/// stack are the function's arguments (first run) or what the waiting host function returns. Returns a
/// Lua status: on `LUA_OK`, `*nresults` results are on `co`'s stack; on an error the message with a
/// traceback is on `L`'s stack.
int mw_resume(lua_State *L, lua_State *co, int nargs, int *nresults, int fresh);

/// Whether a host function running on `L` may wait: `L` is the coroutine `mw_resume` runs (not one the
/// script made, and not a plain call), and nothing in between forbids yielding.
int mw_can_yield(lua_State *L);

/// Pushes what resumes a waiting host function with a failure: it raises a Lua error with `message`.
void mw_push_wait_failure(lua_State *co, const char *message);

/// Resets a coroutine that will not be resumed again (closes its pending to-be-closed variables).
void mw_reset_thread(lua_State *co);

/// Pushes a Swift host function: a closure over (function_id, context) that calls the dispatcher.
void mw_push_host_function(lua_State *L, int function_id, void *context);

/// The limits of a state.
mw_limits *mw_limits_of(lua_State *L);

/// Wrappers for Lua macros that do not import into Swift.
void mw_pop(lua_State *L, int n);
void mw_newtable(lua_State *L);
const char *mw_tolstring(lua_State *L, int index, size_t *length);
int mw_registryindex(void);
int mw_upvalueindex(int i);
void mw_pushglobaltable(lua_State *L);
int mw_ref(lua_State *L);
void mw_unref(lua_State *L, int ref);
int mw_isinteger(lua_State *L, int index);
int64_t mw_tointeger(lua_State *L, int index, int *isnum);
double mw_tonumber(lua_State *L, int index, int *isnum);
int mw_rawlen(lua_State *L, int index);
void mw_gc_collect(lua_State *L);

#endif
