--- Assertions for the specs of recipes and masks (busted or any runner):
-- the mask equals a predicate on every cell, given cells are or are not
-- allowed, and the compact mask agrees with its dense form.  The `assert_*`
-- functions raise a message naming the first cell that is wrong (at the
-- caller's level, so a runner reports the spec's line) and return true
-- otherwise; `compare` and `consistent` return ok, message instead.
--
-- Brute force over every cell is meant for small sizes: masks with more
-- than `max_cells` cells (default 2^20) are refused.  Misuse (not a
-- MaskInfo, a malformed cell) raises "bad argument ..." like the rest of
-- maskinfo.
-- @module maskinfo.testing
-- @usage
-- local testing = require("maskinfo.testing")
-- testing.assert_equals(mi.causal(8), function(b, h, q, k) return k <= q end)

local O = require("maskinfo.object")

local M = {}

local DEFAULT_MAX_CELLS = 1 << 20

-- Raise msg at the level of the spec that called the public function
-- (depth: how many maskinfo.testing frames are in between).
local function fail(msg, depth) error(msg, 2 + (depth or 1)) end

local function check_mask(fname, mask)
  if not O.is_open(mask) then
    error(("bad argument #1 to '%s' (open MaskInfo expected, got %s)"):format(fname, type(mask)), 0)
  end
end

-- The dense cells of mask as nested tables t[b][h][q][k] (1-based) and the
-- shape B, H, Q, K; nil and a message when it is too big for brute force.
local function dense(mask, max_cells)
  local a = mask:attention_mask("bool")
  local s = a:shape()
  local cells = s[1] * s[2] * s[3] * s[4]
  if cells > max_cells then
    return nil, ("the mask has %d cells, more than max_cells (%d): test it at a smaller size"):format(cells, max_cells)
  end
  return a:totable(), s[1], s[2], s[3], s[4]
end

local function cell_str(b, h, q, k)
  return ("(b=%d, h=%d, q=%d, k=%d)"):format(b, h, q, k)
end

--- Compare every cell of mask with pred(b, h, q, k) (0-based; pred must
-- return a boolean).
-- @param mask a MaskInfo
-- @tparam function pred
-- @tparam[opt] table opts max_cells (default 2^20)
-- @return true, or false and a message naming the first differing cell
-- (row-major) and how many cells differ
function M.compare(mask, pred, opts)
  check_mask("compare", mask)
  if type(pred) ~= "function" then
    error("bad argument #2 to 'compare' (predicate function expected, got " .. type(pred) .. ")", 0)
  end
  local t, B, H, Q, K = dense(mask, (opts or {}).max_cells or DEFAULT_MAX_CELLS)
  if not t then return false, B end
  local first, ndiff = nil, 0
  for b = 0, B - 1 do
    for h = 0, H - 1 do
      for q = 0, Q - 1 do
        local row = t[b + 1][h + 1][q + 1]
        for k = 0, K - 1 do
          local want = pred(b, h, q, k)
          if type(want) ~= "boolean" then
            return false, ("the predicate returned %s at %s, a boolean expected"):format(type(want), cell_str(b, h, q, k))
          end
          if row[k + 1] ~= want then
            ndiff = ndiff + 1
            first = first or { b, h, q, k, row[k + 1] }
          end
        end
      end
    end
  end
  if not first then return true end
  return false, ("the mask differs from the predicate at %s: the mask %s it, the predicate %s (%d of %d cells differ)")
    :format(cell_str(table.unpack(first, 1, 4)), first[5] and "allows" or "masks",
      first[5] and "masks it" or "allows it", ndiff, B * H * Q * K)
end

--- Raise unless every cell of mask equals pred(b, h, q, k); see compare.
function M.assert_equals(mask, pred, opts)
  local ok, msg = M.compare(mask, pred, opts)
  if not ok then fail(msg) end
  return true
end

-- Check the cells {b, h, q, k} of list against want (true: allowed).
local function cells(fname, mask, list, want)
  check_mask(fname, mask)
  if type(list) ~= "table" then
    error(("bad argument #2 to '%s' (list of {b, h, q, k} cells expected, got %s)"):format(fname, type(list)), 0)
  end
  local B, Q, K = mask:shape()
  local _, per_head = mask:count()
  local H = per_head:shape()[2]
  local size = { B, H, Q, K }
  for i, c in ipairs(list) do
    if type(c) ~= "table" or #c ~= 4 then
      error(("bad argument #2 to '%s' (cell %d: {b, h, q, k} expected)"):format(fname, i), 0)
    end
    for d = 1, 4 do
      local v = math.tointeger(c[d])
      if v == nil or v < 0 or v >= size[d] then
        fail(("cell %d %s is outside the mask's shape (%d, %d, %d, %d)"):format(i,
          "{" .. table.concat(c, ", ") .. "}", B, H, Q, K), 2)
      end
    end
    if mask:allowed(c[1], c[2], c[3], c[4]) ~= want then
      fail(("cell %s should be %s, but it is %s"):format(cell_str(c[1], c[2], c[3], c[4]),
        want and "allowed" or "masked", want and "masked" or "allowed"), 2)
    end
  end
  return true
end

--- Raise unless each cell {b, h, q, k} of list is allowed.
function M.assert_allowed(mask, list)
  return cells("assert_allowed", mask, list, true)
end

--- Raise unless each cell {b, h, q, k} of list is masked.
function M.assert_masked(mask, list)
  return cells("assert_masked", mask, list, false)
end

--- Whether the compact mask agrees with its dense form: `allowed` on every
-- cell, and the count, equal the dense attention_mask().
-- @return true, or false and a message naming the first disagreement
function M.consistent(mask, opts)
  check_mask("consistent", mask)
  local t, B, H, Q, K = dense(mask, (opts or {}).max_cells or DEFAULT_MAX_CELLS)
  if not t then return false, B end
  local n = 0
  for b = 0, B - 1 do
    for h = 0, H - 1 do
      for q = 0, Q - 1 do
        for k = 0, K - 1 do
          local d = t[b + 1][h + 1][q + 1][k + 1]
          if d then n = n + 1 end
          if mask:allowed(b, h, q, k) ~= d then
            return false, ("allowed%s is %s but the dense mask says %s"):format(cell_str(b, h, q, k),
              tostring(not d), tostring(d))
          end
        end
      end
    end
  end
  local count = mask:count()
  if count ~= n then
    return false, ("count() is %d but the dense mask has %d allowed cells"):format(count, n)
  end
  return true
end

--- Raise unless the compact mask agrees with its dense form; see consistent.
function M.assert_consistent(mask, opts)
  local ok, msg = M.consistent(mask, opts)
  if not ok then fail(msg) end
  return true
end

return M
