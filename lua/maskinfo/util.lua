--- Small helpers for recipes and scripts: id tables for common layouts.
-- @module maskinfo.util

local U = {}

--- A flat table of n copies of v.
function U.fill(n, v)
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

--- Segment ids for documents of the given lengths, packed in order; the
-- rest of n (if any) is padding (-1).
function U.segments_from_lengths(lengths, n)
  local t, pos = {}, 0
  for d, len in ipairs(lengths) do
    for i = 1, len do t[pos + i] = d - 1 end
    pos = pos + len
  end
  for i = pos + 1, n or pos do t[i] = -1 end
  return t
end

--- Segment ids of n tokens split into documents by fractions (summing to
-- at most 1; the remainder is padding).
function U.documents(n, fractions)
  local lengths, used = {}, 0
  for i, f in ipairs(fractions) do
    local len = math.floor(n * f + 0.5)
    if i == #fractions and math.abs(f - (1 - (used / n))) < 1e-9 then len = n - used end
    len = math.min(len, n - used)
    lengths[i] = len
    used = used + len
  end
  return U.segments_from_lengths(lengths, n)
end

return U
