// table.insert, table.remove and table.move with metered work. The library's versions shift elements in a
// C loop whose length comes from `#t` (which a `__len` metamethod may make anything) or from the caller
// (`table.move(t, 1, 1e15, 2)`), so one call could run for days without the instruction hook noticing.
// These behave the same (reference manual §6.6) and charge every element they move to the call's CPU
// budget and deadline. They accept tables only (the sandbox has no userdata with metatables).
#include <lauxlib.h>
#include <lua.h>

#include "mw_internal.h"

static int mw_table_insert(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer free_slot = luaL_intop(+, luaL_len(L, 1), 1);
    lua_Integer position;
    switch (lua_gettop(L)) {
    case 2:
        position = free_slot;
        break;
    case 3: {
        position = luaL_checkinteger(L, 2);
        // (unsigned) position - 1 < free_slot  <=>  1 <= position <= free_slot
        luaL_argcheck(L, (lua_Unsigned)position - 1u < (lua_Unsigned)free_slot, 2, "position out of bounds");
        mw_meter meter;
        mw_meter_start(&meter, L);
        for (lua_Integer i = free_slot; i > position; i--) {
            mw_tick(&meter, 1);
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, position);
    return 0;
}

static int mw_table_remove(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer size = luaL_len(L, 1);
    lua_Integer position = luaL_optinteger(L, 2, size);
    if (position != size) {
        // (unsigned) position - 1 <= size  <=>  1 <= position <= size + 1
        luaL_argcheck(L, (lua_Unsigned)position - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    }
    lua_geti(L, 1, position);
    mw_meter meter;
    mw_meter_start(&meter, L);
    for (; position < size; position++) {
        mw_tick(&meter, 1);
        lua_geti(L, 1, position + 1);
        lua_seti(L, 1, position);
    }
    lua_pushnil(L);
    lua_seti(L, 1, position);
    return 1;
}

static int mw_table_move(lua_State *L) {
    lua_Integer first = luaL_checkinteger(L, 2);
    lua_Integer last = luaL_checkinteger(L, 3);
    lua_Integer to = luaL_checkinteger(L, 4);
    int target = lua_isnoneornil(L, 5) ? 1 : 5;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, target, LUA_TTABLE);
    if (last >= first) {
        luaL_argcheck(L, first > 0 || last < LUA_MAXINTEGER + first, 3, "too many elements to move");
        lua_Integer count = last - first + 1;
        luaL_argcheck(L, to <= LUA_MAXINTEGER - count + 1, 4, "destination wrap around");
        mw_meter meter;
        mw_meter_start(&meter, L);
        int forward = to > last || to <= first || (target != 1 && !lua_compare(L, 1, target, LUA_OPEQ));
        for (lua_Integer i = 0; i < count; i++) {
            lua_Integer offset = forward ? i : count - 1 - i;  // overlapping to the right: copy backwards
            mw_tick(&meter, 1);
            lua_geti(L, 1, first + offset);
            lua_seti(L, target, to + offset);
        }
    }
    lua_pushvalue(L, target);
    return 1;
}

void mw_install_bounded_table(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"insert", mw_table_insert}, {"remove", mw_table_remove}, {"move", mw_table_move}, {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
