--- Small helpers for recipes and scripts: id tables for common layouts.
-- @module maskinfo.util

local E = require("maskinfo.errors")
local G = require("maskinfo.guard")

local U = {}

-- Bytes a Lua table slot takes (a TValue); what the guard is asked for.
local SLOT_BYTES = 16

--- A flat table of n copies of v.  n is a non-negative integer (an
-- integral float is accepted) that the memory guard allows as a table of
-- n slots; anything else raises before the table is built.
function U.fill(n, v)
  local c = type(n) == "number" and math.tointeger(n)
  if not c or c < 0 then
    E.argerr("fill", 1, "count must be a non-negative integer, got " .. E.show(n))
  end
  n = c
  G.guard("fill", n, SLOT_BYTES, "a table")
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

--- Segment ids for documents of the given lengths, packed in order.  With
-- n, the row has n tokens: the rest is padding (-1), and lengths that add up
-- to more than n are an error.
function U.segments_from_lengths(lengths, n)
  if type(lengths) ~= "table" then
    error("bad argument #1 to 'segments_from_lengths' (table of lengths expected, got " .. type(lengths) .. ")", 0)
  end
  local total = 0
  for i, len in ipairs(lengths) do
    if math.type(len) ~= "integer" and not (type(len) == "number" and len == math.floor(len)) or len < 0 then
      error(("bad argument #1 to 'segments_from_lengths' (length %d must be a non-negative integer, got %s)"):format(
        i, tostring(len)), 0)
    end
    total = total + len
  end
  if n ~= nil and (math.tointeger(n) == nil or n < total) then
    error(("bad argument #2 to 'segments_from_lengths' (n must be an integer >= the total length %d, got %s)"):format(
      total, tostring(n)), 0)
  end
  local t, pos = {}, 0
  for d, len in ipairs(lengths) do
    for i = 1, len do t[pos + i] = d - 1 end
    pos = pos + len
  end
  for i = pos + 1, n or pos do t[i] = -1 end
  return t
end

--- Segment ids of n tokens split into documents by fractions (each >= 0,
-- summing to at most 1; when they sum to 1 the last document takes the
-- rounding remainder, otherwise the remainder is padding).
function U.documents(n, fractions)
  if math.tointeger(n) == nil or n < 0 then
    error("bad argument #1 to 'documents' (non-negative integer expected, got " .. tostring(n) .. ")", 0)
  end
  if type(fractions) ~= "table" then
    error("bad argument #2 to 'documents' (table of fractions expected, got " .. type(fractions) .. ")", 0)
  end
  local sum = 0
  for i, f in ipairs(fractions) do
    if type(f) ~= "number" or f ~= f or f < 0 then
      error(("bad argument #2 to 'documents' (fraction %d must be a number >= 0, got %s)"):format(i, tostring(f)), 0)
    end
    sum = sum + f
  end
  if sum > 1 + 1e-9 then
    error(("bad argument #2 to 'documents' (fractions sum to %g, more than 1)"):format(sum), 0)
  end
  local lengths, used = {}, 0
  for i, f in ipairs(fractions) do
    local len = math.floor(n * f + 0.5)
    if i == #fractions and sum >= 1 - 1e-9 then len = n - used end
    len = math.max(0, math.min(len, n - used))
    lengths[i] = len
    used = used + len
  end
  return U.segments_from_lengths(lengths, n)
end

return U
