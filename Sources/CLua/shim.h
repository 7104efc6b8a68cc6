// Lua 5.4 headers for Swift. Debian installs them in /usr/include/lua5.4,
// which pkg-config (lua5.4) puts on the include path.
#ifndef MOONWIRE_CLUA_SHIM_H
#define MOONWIRE_CLUA_SHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#endif
