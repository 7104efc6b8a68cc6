// Lua patterns (reference manual §6.4.1) whose work is metered: string.find, match, gmatch and gsub for
// plugins. The standard library's matcher backtracks inside one C call, beyond the reach of the
// instruction hook, so `("a"):rep(400):find(".-.-.-b")` could run for hours. This matcher has the same
// language and results, and charges every step (each match attempt, each character an expansion tries,
// each character of a set or a back-reference it compares) to the call's CPU budget and deadline.
#define _GNU_SOURCE  // memmem
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "mw_internal.h"

#define MW_MAX_CAPTURES 32
/// Deepest recursion of one match (the standard matcher uses 200 too).
#define MW_MAX_DEPTH 200
#define MW_CAPTURE_OPEN (-1)
#define MW_CAPTURE_POSITION (-2)
#define MW_ESC '%'

typedef struct mw_pattern_state {
    const char *subject;
    const char *subject_end;
    const char *pattern_end;
    lua_State *L;
    mw_meter meter;
    int depth_left;
    int level;  // captures opened so far
    struct {
        const char *start;
        ptrdiff_t length;  // or MW_CAPTURE_OPEN / MW_CAPTURE_POSITION
    } capture[MW_MAX_CAPTURES];
} mw_pattern_state;

static const char *mw_match(mw_pattern_state *ms, const char *s, const char *p);

static void mw_prepare(mw_pattern_state *ms, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    ms->L = L;
    ms->subject = s;
    ms->subject_end = s + ls;
    ms->pattern_end = p + lp;
    ms->depth_left = MW_MAX_DEPTH;
    ms->level = 0;
    mw_meter_start(&ms->meter, L);
}

static void mw_restart(mw_pattern_state *ms) {
    ms->level = 0;
    ms->depth_left = MW_MAX_DEPTH;
}

// MARK: classes

/// Whether character `c` belongs to class letter `cl` (`%a`, `%d`, ...; upper case negates); any other
/// letter stands for itself.
static int mw_in_class(int c, int cl) {
    int in;
    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    default: return cl == c;
    }
    if (isupper(cl)) in = !in;
    return in != 0;
}

/// Whether `c` is in the set that starts at `open` ('[') and ends at `close` (']').
static int mw_in_set(mw_pattern_state *ms, int c, const char *open, const char *close) {
    int match = 1;
    const char *p = open + 1;
    if (*p == '^') {
        match = 0;
        p++;
    }
    for (; p < close; p++) {
        mw_tick(&ms->meter, 1);
        if (*p == MW_ESC) {
            p++;
            if (mw_in_class(c, (unsigned char)*p)) return match;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return match;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return match;
        }
    }
    return !match;
}

/// The end of the single-character class that starts at `p`.
static const char *mw_class_end(mw_pattern_state *ms, const char *p) {
    switch (*p++) {
    case MW_ESC:
        if (p == ms->pattern_end) luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do {  // the first character of a set is never its end: "[]]" is a set of ']'
            if (p == ms->pattern_end) luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == MW_ESC && p < ms->pattern_end) p++;
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

/// Whether the subject character at `s` matches the class from `p` to `end`.
static int mw_single(mw_pattern_state *ms, const char *s, const char *p, const char *end) {
    if (s >= ms->subject_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case MW_ESC: return mw_in_class(c, (unsigned char)p[1]);
    case '[': return mw_in_set(ms, c, p, end - 1);
    default: return (unsigned char)*p == c;
    }
}

// MARK: items

static const char *mw_balanced(mw_pattern_state *ms, const char *s, const char *p) {
    if (p >= ms->pattern_end - 1) luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= ms->subject_end || *s != *p) return NULL;
    char open = p[0], close = p[1];
    int depth = 1;
    while (++s < ms->subject_end) {
        mw_tick(&ms->meter, 1);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

/// The longest run of the class, then back off one character at a time until the rest matches.
static const char *mw_longest(mw_pattern_state *ms, const char *s, const char *p, const char *end) {
    ptrdiff_t count = 0;
    while (mw_single(ms, s + count, p, end)) {
        count++;
        mw_tick(&ms->meter, 1);
    }
    for (; count >= 0; count--) {
        const char *rest = mw_match(ms, s + count, end + 1);
        if (rest != NULL) return rest;
    }
    return NULL;
}

/// The shortest run of the class after which the rest matches.
static const char *mw_shortest(mw_pattern_state *ms, const char *s, const char *p, const char *end) {
    for (;;) {
        const char *rest = mw_match(ms, s, end + 1);
        if (rest != NULL) return rest;
        if (!mw_single(ms, s, p, end)) return NULL;
        s++;
    }
}

static const char *mw_open_capture(mw_pattern_state *ms, const char *s, const char *p, ptrdiff_t kind) {
    if (ms->level >= MW_MAX_CAPTURES) luaL_error(ms->L, "too many captures");
    ms->capture[ms->level].start = s;
    ms->capture[ms->level].length = kind;
    ms->level++;
    const char *rest = mw_match(ms, s, p);
    if (rest == NULL) ms->level--;
    return rest;
}

static const char *mw_close_capture(mw_pattern_state *ms, const char *s, const char *p) {
    int index = ms->level - 1;
    while (index >= 0 && ms->capture[index].length != MW_CAPTURE_OPEN) index--;
    if (index < 0) luaL_error(ms->L, "invalid pattern capture");
    ms->capture[index].length = s - ms->capture[index].start;
    const char *rest = mw_match(ms, s, p);
    if (rest == NULL) ms->capture[index].length = MW_CAPTURE_OPEN;
    return rest;
}

/// `%1`..`%9`: the text of an earlier, closed capture again.
static const char *mw_back_reference(mw_pattern_state *ms, const char *s, int digit) {
    int index = digit - '1';
    if (index < 0 || index >= ms->level || ms->capture[index].length == MW_CAPTURE_OPEN) {
        luaL_error(ms->L, "invalid capture index %%%d", index + 1);
    }
    size_t length = (size_t)ms->capture[index].length;  // a position capture is never equal to text
    mw_tick(&ms->meter, (int64_t)(length / 32) + 1);
    if ((size_t)(ms->subject_end - s) >= length && memcmp(ms->capture[index].start, s, length) == 0) return s + length;
    return NULL;
}

/// Matches the pattern from `p` against the subject from `s`; the end of the match, or NULL.
static const char *mw_match(mw_pattern_state *ms, const char *s, const char *p) {
    if (ms->depth_left-- == 0) luaL_error(ms->L, "pattern too complex");
    while (p != ms->pattern_end) {
        mw_tick(&ms->meter, 1);
        switch (*p) {
        case '(':
            s = (p[1] == ')') ? mw_open_capture(ms, s, p + 2, MW_CAPTURE_POSITION) : mw_open_capture(ms, s, p + 1, MW_CAPTURE_OPEN);
            goto done;
        case ')':
            s = mw_close_capture(ms, s, p + 1);
            goto done;
        case '$':
            if (p + 1 != ms->pattern_end) goto single;  // a '$' inside the pattern is a plain character
            s = (s == ms->subject_end) ? s : NULL;
            goto done;
        case MW_ESC:
            switch (p[1]) {
            case 'b':
                s = mw_balanced(ms, s, p + 2);
                if (s == NULL) goto done;
                p += 4;
                continue;
            case 'f': {
                p += 2;
                if (*p != '[') luaL_error(ms->L, "missing '[' after '%%f' in pattern");
                const char *end = mw_class_end(ms, p);
                int before = (s == ms->subject) ? '\0' : (unsigned char)s[-1];
                int here = (s < ms->subject_end) ? (unsigned char)*s : '\0';
                if (!mw_in_set(ms, before, p, end - 1) && mw_in_set(ms, here, p, end - 1)) {
                    p = end;
                    continue;
                }
                s = NULL;
                goto done;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = mw_back_reference(ms, s, (unsigned char)p[1]);
                if (s == NULL) goto done;
                p += 2;
                continue;
            default:
                goto single;
            }
        default:
        single: {
            const char *end = mw_class_end(ms, p);
            if (!mw_single(ms, s, p, end)) {
                if (*end == '*' || *end == '?' || *end == '-') {  // zero repetitions are allowed
                    p = end + 1;
                    continue;
                }
                s = NULL;
                goto done;
            }
            switch (*end) {
            case '?': {
                const char *rest = mw_match(ms, s + 1, end + 1);
                if (rest != NULL) {
                    s = rest;
                    goto done;
                }
                p = end + 1;
                continue;
            }
            case '+': s = mw_longest(ms, s + 1, p, end); goto done;
            case '*': s = mw_longest(ms, s, p, end); goto done;
            case '-': s = mw_shortest(ms, s, p, end); goto done;
            default:
                s++;
                p = end;
                continue;
            }
        }
        }
    }
done:
    ms->depth_left++;
    return s;
}

// MARK: captures

static void mw_push_capture(mw_pattern_state *ms, int index, const char *s, const char *e) {
    if (index >= ms->level) {
        if (index != 0) luaL_error(ms->L, "invalid capture index %%%d", index + 1);
        lua_pushlstring(ms->L, s, (size_t)(e - s));  // no captures: the whole match
        return;
    }
    ptrdiff_t length = ms->capture[index].length;
    if (length == MW_CAPTURE_OPEN) luaL_error(ms->L, "unfinished capture");
    if (length == MW_CAPTURE_POSITION) {
        lua_pushinteger(ms->L, (lua_Integer)(ms->capture[index].start - ms->subject) + 1);
    } else {
        lua_pushlstring(ms->L, ms->capture[index].start, (size_t)length);
    }
}

/// Pushes the captures (or the whole match when there are none and `s` is given); returns how many.
static int mw_push_captures(mw_pattern_state *ms, const char *s, const char *e) {
    int count = (ms->level == 0 && s != NULL) ? 1 : ms->level;
    luaL_checkstack(ms->L, count, "too many captures");
    for (int i = 0; i < count; i++) mw_push_capture(ms, i, s, e);
    return count;
}

// MARK: string functions

/// A 1-based start position as `string.find` reads it (negative counts from the end).
static lua_Integer mw_start_position(lua_Integer position, size_t length) {
    if (position > 0) return position;
    if (position == 0) return 1;
    if (position < -(lua_Integer)length) return 1;
    return (lua_Integer)length + position + 1;
}

static int mw_has_specials(const char *p, size_t length) {
    static const char specials[] = "^$*+?.([%-";
    for (size_t i = 0; i < length; i++) {
        if (memchr(specials, p[i], sizeof(specials) - 1) != NULL) return 1;
    }
    return 0;
}

static int mw_find_or_match(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    lua_Integer start = mw_start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    mw_charge(L, 0);
    if (start > (lua_Integer)ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !mw_has_specials(p, lp))) {
        // memmem is linear in the subject and the needle (no quadratic worst case).
        const char *found = memmem(s + start, ls - (size_t)start, p, lp);
        if (found != NULL) {
            lua_pushinteger(L, (lua_Integer)(found - s) + 1);
            lua_pushinteger(L, (lua_Integer)(found - s) + (lua_Integer)lp);
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    int anchored = (*p == '^');
    if (anchored) {
        p++;
        lp--;
    }
    mw_pattern_state ms;
    mw_prepare(&ms, L, s, ls, p, lp);
    const char *from = s + start;
    do {
        mw_restart(&ms);
        const char *e = mw_match(&ms, from, p);
        if (e != NULL) {
            if (!find) return mw_push_captures(&ms, from, e);
            lua_pushinteger(L, (lua_Integer)(from - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return mw_push_captures(&ms, NULL, NULL) + 2;
        }
    } while (from++ < ms.subject_end && !anchored);
    luaL_pushfail(L);
    return 1;
}

static int mw_find(lua_State *L) { return mw_find_or_match(L, 1); }
static int mw_string_match(lua_State *L) { return mw_find_or_match(L, 0); }

typedef struct mw_gmatch_state {
    const char *next;        // where the next search starts
    const char *pattern;
    const char *last_match;  // end of the previous match (an empty match there is skipped)
    mw_pattern_state ms;
} mw_gmatch_state;

static int mw_gmatch_next(lua_State *L) {
    mw_gmatch_state *gm = (mw_gmatch_state *)lua_touserdata(L, lua_upvalueindex(3));
    gm->ms.L = L;  // the iterator may run in another coroutine than the one that made it
    mw_meter_start(&gm->ms.meter, L);
    for (const char *from = gm->next; from <= gm->ms.subject_end; from++) {
        mw_restart(&gm->ms);
        const char *e = mw_match(&gm->ms, from, gm->pattern);
        if (e != NULL && e != gm->last_match) {
            gm->next = gm->last_match = e;
            return mw_push_captures(&gm->ms, from, e);
        }
    }
    return 0;
}

static int mw_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    lua_Integer start = mw_start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    if (start > (lua_Integer)ls) start = (lua_Integer)ls + 1;  // past the end: no match
    lua_settop(L, 2);  // the subject and pattern stay alive as upvalues
    mw_gmatch_state *gm = (mw_gmatch_state *)lua_newuserdatauv(L, sizeof(mw_gmatch_state), 0);
    mw_prepare(&gm->ms, L, s, ls, p, lp);
    gm->next = s + start;
    gm->pattern = p;
    gm->last_match = NULL;
    lua_pushcclosure(L, mw_gmatch_next, 3);
    return 1;
}

/// Appends the replacement string (argument 3) for one match, expanding `%0`..`%9` and `%%`.
static void mw_add_template(mw_pattern_state *ms, luaL_Buffer *b, const char *s, const char *e) {
    lua_State *L = ms->L;
    size_t length;
    const char *text = lua_tolstring(L, 3, &length);
    const char *end = text + length;
    const char *escape;
    mw_tick(&ms->meter, (int64_t)(length / 16) + 1);
    while ((escape = memchr(text, MW_ESC, (size_t)(end - text))) != NULL) {
        luaL_addlstring(b, text, (size_t)(escape - text));
        escape++;
        if (*escape == MW_ESC) {
            luaL_addchar(b, MW_ESC);
        } else if (*escape == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*escape)) {
            mw_push_capture(ms, *escape - '1', s, e);
            luaL_tolstring(L, -1, NULL);  // a position capture is a number
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", MW_ESC);
        }
        text = escape + 1;
    }
    luaL_addlstring(b, text, (size_t)(end - text));
}

/// Appends the replacement for one match: the template, the function's result or the table's value
/// (false or nil keep the original text).
static void mw_add_replacement(mw_pattern_state *ms, luaL_Buffer *b, const char *s, const char *e, int kind) {
    lua_State *L = ms->L;
    if (kind == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int count = mw_push_captures(ms, s, e);
        lua_call(L, count, 1);
    } else if (kind == LUA_TTABLE) {
        mw_push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        mw_add_template(ms, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int mw_gsub(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int kind = lua_type(L, 3);
    lua_Integer most = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                     "string/function/table");
    int anchored = (*p == '^');
    if (anchored) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    mw_pattern_state ms;
    mw_prepare(&ms, L, s, ls, p, lp);
    const char *last_match = NULL;
    lua_Integer count = 0;
    while (count < most) {
        mw_restart(&ms);
        const char *e = mw_match(&ms, s, p);
        if (e != NULL && e != last_match) {
            count++;
            mw_add_replacement(&ms, &b, s, e, kind);
            s = last_match = e;
        } else if (s < ms.subject_end) {
            luaL_addchar(&b, *s++);
        } else {
            break;
        }
        if (anchored) break;
    }
    luaL_addlstring(&b, s, (size_t)(ms.subject_end - s));
    luaL_pushresult(&b);
    lua_pushinteger(L, count);
    return 2;
}

/// string.rep, except that an empty result costs nothing: the library's own loop would run `n` times to
/// copy nothing (`(""):rep(math.maxinteger)` never returns). Otherwise the result must fit in memory,
/// which bounds the loop; the copies are charged once made.
static int mw_rep(lua_State *L) {
    size_t length, separator = 0;
    luaL_checklstring(L, 1, &length);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &separator);
    if (n <= 0 || length + separator == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    mw_charge(L, n / 8);  // the copies it made
    return 1;
}

void mw_install_bounded_string(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"find", mw_find}, {"match", mw_string_match}, {"gmatch", mw_gmatch}, {"gsub", mw_gsub}, {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, mw_rep, 1);
    lua_setfield(L, -2, "rep");
}
