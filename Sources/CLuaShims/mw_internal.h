// Internal to the C half of the Lua layer: work accounting for C functions that loop (the pattern
// matcher, table shifts), so that the CPU budget and the deadline hold inside them too.
#ifndef MOONWIRE_LUA_INTERNAL_H
#define MOONWIRE_LUA_INTERNAL_H

#include <lua.h>
#include <stdint.h>

#include "include/lua_shims.h"

/// How many units of work a C function does between two checks of the budget and deadline.
#define MW_STEP_BATCH 4096

/// Charges `steps` units of work done inside a C function to the current call: one unit counts as one VM
/// instruction against the CPU budget, and the deadline is checked. Raises the kill (never returns) when
/// either is spent, or when the call was already killed.
void mw_charge(lua_State *L, int64_t steps);

/// The count hook that enforces the CPU budget and deadline between VM instructions.
void mw_hook(lua_State *L, lua_Debug *ar);

/// Raises the error of a killed call, naming the Lua file and line that was running. Never returns.
int mw_raise_kill(lua_State *L);

/// A countdown that charges work in batches: `mw_tick` costs a decrement and a branch.
typedef struct mw_meter {
    lua_State *L;
    int64_t left;
} mw_meter;

static inline void mw_meter_start(mw_meter *meter, lua_State *L) {
    meter->L = L;
    meter->left = MW_STEP_BATCH;
    mw_charge(L, 0);  // a call killed earlier (and caught by the script) stays killed
}

static inline void mw_tick(mw_meter *meter, int64_t steps) {
    meter->left -= steps;
    if (meter->left <= 0) {
        mw_charge(meter->L, MW_STEP_BATCH - meter->left);
        meter->left = MW_STEP_BATCH;
    }
}

/// Replaces string.find, match, gmatch, gsub and rep in the string table on the top of the stack with
/// versions whose work is metered.
void mw_install_bounded_string(lua_State *L);

/// Replaces table.insert, remove and move in the table on the top of the stack with metered versions.
void mw_install_bounded_table(lua_State *L);

#endif
