#include "lua_shims.h"
#include "mw_internal.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static mw_host_dispatch mw_dispatch = NULL;

void mw_set_dispatch(mw_host_dispatch dispatch) { mw_dispatch = dispatch; }

static uint64_t mw_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// MARK: allocator

static void *mw_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    mw_limits *limits = (mw_limits *)ud;
    size_t old = ptr ? osize : 0;  // when ptr is NULL, osize is a type tag (manual §4.6)
    if (nsize == 0) {
        free(ptr);
        limits->used -= old;
        return NULL;
    }
    if (nsize > old && limits->limit > 0 && limits->enforce > 0 && limits->used + (nsize - old) > limits->limit) {
        // Lua collects garbage and asks again; only if that fails too is it a memory error (the call's
        // outcome says so: a refusal that a collection then satisfied is not one).
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) return NULL;
    limits->used = limits->used - old + nsize;
    if (limits->used > limits->peak) limits->peak = limits->used;
    return block;
}

mw_limits *mw_limits_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (mw_limits *)ud;
}

static int mw_panic(lua_State *L) {
    // Never reached: every call into Lua is protected. Abort loudly rather than continue corrupted.
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "moonwire: unprotected Lua error: %s\n", message ? message : "(not a string)");
    abort();
    return 0;
}

static void mw_warn(void *ud, const char *message, int tocont) {
    (void)ud; (void)message; (void)tocont;  // warnings (errors in finalizers) are dropped
}

lua_State *mw_newstate(mw_limits *limits) {
    lua_State *L = lua_newstate(mw_alloc, limits);
    if (L == NULL) return NULL;
    lua_atpanic(L, mw_panic);
    lua_setwarnf(L, mw_warn, NULL);
    // Hooks build a few small tables per call that die young: the generational collector frees them
    // for less work than the incremental one.
    lua_gc(L, LUA_GCGEN, 0, 0);
    return L;
}

void mw_close(lua_State *L) { lua_close(L); }

// MARK: limits hook and metering

static const char *mw_stop_message(int reason) {
    return reason == MW_STOP_DEADLINE ? "call exceeded its time limit" : "call exceeded its CPU budget";
}

static void mw_check_deadline(mw_limits *limits) {
    if (!limits->killed && limits->deadline_ns > 0 && mw_now_ns() > limits->deadline_ns) {
        limits->killed = 1;
        limits->stop_reason = MW_STOP_DEADLINE;
    }
}

void mw_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    mw_limits *limits = mw_limits_of(L);
    if (!limits->killed) {
        int step = lua_gethookcount(L);
        if (limits->budget_per_call > 0) {
            limits->budget -= step;
            if (limits->budget <= 0) {
                limits->killed = 1;
                limits->stop_reason = MW_STOP_BUDGET;
            }
        }
        mw_check_deadline(limits);
        if (!limits->killed) {
            // A coroutine armed to stop at every instruction by an earlier call's kill goes back to normal.
            if (step == 1 && limits->hook_step > 1) lua_sethook(L, mw_hook, LUA_MASKCOUNT, limits->hook_step);
            return;
        }
    }
    mw_raise_kill(L);
}

void mw_interrupt(lua_State *L) {
    mw_limits *limits = mw_limits_of(L);
    limits->stop_reason = MW_STOP_DEADLINE;
    limits->killed = 1;
    lua_sethook(L, mw_hook, LUA_MASKCOUNT, 1);
}

int mw_raise_kill(lua_State *L) {
    mw_limits *limits = mw_limits_of(L);
    // From now on this thread (and the main one, if this is a coroutine) stops at every instruction, so a
    // script's own pcall or coroutine.resume cannot swallow the kill.
    lua_sethook(L, mw_hook, LUA_MASKCOUNT, 1);
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD) == LUA_TTHREAD) {
        lua_State *main = lua_tothread(L, -1);
        if (main != L) lua_sethook(main, mw_hook, LUA_MASKCOUNT, 1);
    }
    lua_pop(L, 1);
    const char *message = mw_stop_message(limits->stop_reason);
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {  // the innermost Lua line running
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, message);
            return lua_error(L);
        }
    }
    lua_pushstring(L, message);
    return lua_error(L);
}

void mw_charge(lua_State *L, int64_t steps) {
    mw_limits *limits = mw_limits_of(L);
    if (!limits->killed && limits->enforce > 0) {
        if (limits->budget_per_call > 0) {
            limits->budget -= steps;
            if (limits->budget <= 0) {
                limits->killed = 1;
                limits->stop_reason = MW_STOP_BUDGET;
            }
        }
        if (steps > 0) mw_check_deadline(limits);
    }
    if (limits->killed) mw_raise_kill(L);
}

// MARK: protected calls

static int mw_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        // After a kill this may run inside the hook, where no hook can stop Lua code: no __tostring then.
        if (!mw_limits_of(L)->killed && luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
            message = lua_tostring(L, -1);
        } else {
            message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        }
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}

int mw_pcall(lua_State *L, int nargs, int nresults) {
    mw_limits *limits = mw_limits_of(L);
    int base = lua_gettop(L) - nargs;  // the function's index
    lua_pushcfunction(L, mw_traceback);
    lua_insert(L, base);
    limits->killed = 0;
    limits->stop_reason = MW_STOP_NONE;
    limits->budget = limits->budget_per_call;
    limits->deadline_ns = limits->call_timeout_ns > 0 ? mw_now_ns() + limits->call_timeout_ns : 0;
    if (limits->budget_per_call > 0 || limits->call_timeout_ns > 0) {
        lua_sethook(L, mw_hook, LUA_MASKCOUNT, limits->hook_step > 0 ? limits->hook_step : 1000);
    } else {
        lua_sethook(L, NULL, 0, 0);
    }
    limits->enforce++;
    int status = lua_pcall(L, nargs, nresults, base);
    limits->enforce--;
    lua_remove(L, base);
    if (status == LUA_OK && limits->stop_reason != MW_STOP_NONE) {
        // The CPU budget or deadline stopped the call but the script got past the kill and returned:
        // the call still failed.
        lua_settop(L, base - 1);
        lua_pushstring(L, mw_stop_message(limits->stop_reason));
        status = LUA_ERRRUN;
    }
    // A memory error the script did not catch (one it caught, and recovered from, is not a failure).
    if (status == LUA_ERRMEM && limits->stop_reason == MW_STOP_NONE) limits->stop_reason = MW_STOP_MEMORY;
    limits->killed = 0;
    return status;
}

int mw_resume(lua_State *L, lua_State *co, int nargs, int *nresults, int fresh) {
    mw_limits *limits = mw_limits_of(L);
    limits->killed = 0;
    limits->stop_reason = MW_STOP_NONE;
    if (fresh) {
        limits->budget = limits->budget_per_call;
        limits->deadline_ns = limits->call_timeout_ns > 0 ? mw_now_ns() + limits->call_timeout_ns : 0;
    }
    if (limits->budget_per_call > 0 || limits->deadline_ns > 0) {
        lua_sethook(co, mw_hook, LUA_MASKCOUNT, limits->hook_step > 0 ? limits->hook_step : 1000);
    } else {
        lua_sethook(co, NULL, 0, 0);
    }
    lua_State *outer = limits->root;
    limits->root = co;
    limits->enforce++;
    int status = lua_resume(co, L, nargs, nresults);
    limits->enforce--;
    limits->root = outer;
    if (status == LUA_OK && limits->stop_reason != MW_STOP_NONE) {
        // Killed, but the script got past the kill and returned: the call still failed.
        lua_settop(co, 0);
        lua_pushstring(co, mw_stop_message(limits->stop_reason));
        status = LUA_ERRRUN;
    }
    if (status != LUA_OK && status != LUA_YIELD) {
        int described = 0;
        const char *message = lua_type(co, -1) == LUA_TSTRING ? lua_tostring(co, -1) : NULL;
        if (message == NULL) {
            message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
            described = 1;
        }
        luaL_traceback(L, co, message, 0);
        if (described) lua_remove(L, -2);
        if (status == LUA_ERRMEM && limits->stop_reason == MW_STOP_NONE) limits->stop_reason = MW_STOP_MEMORY;
    }
    limits->killed = 0;
    return status;
}

int mw_can_yield(lua_State *L) {
    return L == mw_limits_of(L)->root && lua_isyieldable(L);
}

void mw_reset_thread(lua_State *co) {
    lua_resetthread(co);
    lua_settop(co, 0);  // a thread that failed keeps its error object on its stack
}

// MARK: loading and sandbox

int mw_load_text(lua_State *L, const char *source, size_t length, const char *chunkname) {
    mw_limits *limits = mw_limits_of(L);
    limits->enforce++;
    int status = luaL_loadbufferx(L, source, length, chunkname, "t");
    limits->enforce--;
    return status;
}

// xpcall whose message handler is skipped once the call has been killed: after a kill the handler would
// run inside the count hook, where hooks are off, so a looping handler could never be stopped.
static int mw_xpcall_handler(lua_State *L) {
    if (mw_limits_of(L)->killed) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int mw_finish_pcall(lua_State *L, int status, lua_KContext extra) {
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - (int)extra;
}

static int mw_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, mw_xpcall_handler, 1);
    lua_copy(L, -1, 2);
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, mw_finish_pcall);
    return mw_finish_pcall(L, status, 2);
}

// setmetatable that refuses __gc: finalizers run with hooks off, beyond the reach of the CPU budget.
static int mw_setmetatable(lua_State *L) {
    int type = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
    if (type == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "__gc metamethods are not allowed in plugins");
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static const char *const mw_removed_base[] = {"load", "loadfile", "dofile", "collectgarbage", "rawset", "print", NULL};

static int mw_sandbox(lua_State *L) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    lua_pop(L, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    lua_pop(L, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    lua_pop(L, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    lua_pop(L, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_pop(L, 1);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
    lua_pop(L, 1);

    lua_pushglobaltable(L);
    for (const char *const *name = mw_removed_base; *name; name++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *name);
    }
    lua_pushcfunction(L, mw_xpcall);
    lua_setfield(L, -2, "xpcall");
    lua_pushcfunction(L, mw_setmetatable);
    lua_setfield(L, -2, "setmetatable");
    lua_pop(L, 1);

    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    mw_install_bounded_string(L);
    lua_pop(L, 1);

    lua_getglobal(L, LUA_TABLIBNAME);
    mw_install_bounded_table(L);
    lua_pop(L, 1);

    // The metatable that marks empty tables as JSON arrays: protected, so that plugin code can neither
    // read it (and add a __gc that would then run outside the CPU budget) nor change it.
    luaL_newmetatable(L, MW_ARRAY_METATABLE);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    // The string metatable is shared by every string: make it unreadable and unchangeable from Lua.
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

int mw_open_sandbox(lua_State *L) {
    lua_pushcfunction(L, mw_sandbox);
    return mw_pcall(L, 0, 0);
}

// MARK: host functions

/// Raises Lua's own memory error: an allocation that cannot fit under the cap fails after a collection.
static int mw_raise_memory_error(lua_State *L) {
    mw_limits *limits = mw_limits_of(L);
    if (limits->limit > 0 && limits->enforce > 0) lua_newuserdatauv(L, limits->limit + 1, 0);  // does not return
    lua_pushliteral(L, "not enough memory");
    return lua_error(L);
}

/// Marks the values a waiting host function is resumed with as a failure: the message follows it.
static char mw_wait_failed;

void mw_push_wait_failure(lua_State *co, const char *message) {
    lua_pushlightuserdata(co, &mw_wait_failed);
    lua_pushstring(co, message);
}

/// Where a host function that waited goes on: its results are the values it was resumed with (above
/// its arguments, `base` of them), or, after `mw_push_wait_failure`, a Lua error with the message.
static int mw_after_wait(lua_State *L, int status, lua_KContext base) {
    (void)status;
    int first = (int)base + 1;
    if (lua_gettop(L) >= first + 1 && lua_touserdata(L, first) == &mw_wait_failed) {
        lua_settop(L, first + 1);
        return lua_error(L);
    }
    return lua_gettop(L) - (int)base;
}

static int mw_trampoline(lua_State *L) {
    int function_id = (int)lua_tointeger(L, lua_upvalueindex(1));
    void *context = lua_touserdata(L, lua_upvalueindex(2));
    mw_limits *limits = mw_limits_of(L);
    if (limits->killed) return mw_raise_kill(L);  // a killed call gets nothing more done by the host
    int saved = limits->enforce;
    limits->enforce = 0;  // Swift frames must never see a memory error raised by an API call
    int results = mw_dispatch ? mw_dispatch(L, function_id, context) : MW_HOST_NO_DISPATCHER;
    limits->enforce = saved;
    switch (results) {
    case MW_HOST_NO_DISPATCHER:
        lua_pushliteral(L, "moonwire: host function dispatcher missing");
        return lua_error(L);
    case MW_HOST_ERROR:
        return lua_error(L);
    case MW_HOST_OUT_OF_MEMORY:
        return mw_raise_memory_error(L);
    case MW_HOST_YIELD:
        // The Swift side checked mw_can_yield first; what the host waits for comes back as the results.
        if (saved > 0) mw_charge(L, 1);
        return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), mw_after_wait);
    default:
        break;
    }
    // Host work counts against the call too: one step for the call, and the deadline is checked now (a
    // script calling a slow host function in a loop runs few instructions between two hook checks).
    if (saved > 0) mw_charge(L, 1);
    if (limits->limit > 0 && saved > 0 && limits->used > limits->limit) {
        // What the host made for the script took the state past its cap: if a collection cannot make
        // room for one more byte, the call gets a memory error instead of the results.
        lua_newuserdatauv(L, 1, 0);
        lua_pop(L, 1);
    }
    return results;
}

void mw_push_host_function(lua_State *L, int function_id, void *context) {
    lua_pushinteger(L, function_id);
    lua_pushlightuserdata(L, context);
    lua_pushcclosure(L, mw_trampoline, 2);
}

// MARK: macro wrappers

void mw_pop(lua_State *L, int n) { lua_pop(L, n); }
void mw_newtable(lua_State *L) { lua_newtable(L); }
const char *mw_tolstring(lua_State *L, int index, size_t *length) { return lua_tolstring(L, index, length); }
int mw_registryindex(void) { return LUA_REGISTRYINDEX; }
int mw_upvalueindex(int i) { return lua_upvalueindex(i); }
void mw_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
int mw_ref(lua_State *L) { return luaL_ref(L, LUA_REGISTRYINDEX); }
void mw_unref(lua_State *L, int ref) { luaL_unref(L, LUA_REGISTRYINDEX, ref); }
int mw_isinteger(lua_State *L, int index) { return lua_isinteger(L, index); }
int64_t mw_tointeger(lua_State *L, int index, int *isnum) { return (int64_t)lua_tointegerx(L, index, isnum); }
double mw_tonumber(lua_State *L, int index, int *isnum) { return (double)lua_tonumberx(L, index, isnum); }
int mw_rawlen(lua_State *L, int index) { return (int)lua_rawlen(L, index); }
void mw_gc_collect(lua_State *L) { lua_gc(L, LUA_GCCOLLECT, 0); }
