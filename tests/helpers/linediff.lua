--- linediff.lua - a line diff for the doc tests (tests/helpers/doctest.lua
-- re-exports it as D.diff): `-` lines are expected, `+` lines got, each
-- hunk headed by where its first expected line is.

local L = {}

-- Longest common subsequence table of two line lists.
local function lcs(a, b)
  local n, m = #a, #b
  local t = {}
  for i = 0, n + 1 do t[i] = {} end
  for i = n, 0, -1 do
    for j = m, 0, -1 do
      if i == n or j == m then
        t[i][j] = 0
      elseif a[i + 1] == b[j + 1] then
        t[i][j] = t[i + 1][j + 1] + 1
      else
        t[i][j] = math.max(t[i + 1][j], t[i][j + 1])
      end
    end
  end
  return t
end

--- A unified-ish diff of expected (list of lines) and got (list of lines).
-- where(i) names expected line i (e.g. "docs/api.md:123"); the hunks are
-- headed with it.  Returns the diff text ("" if equal).
function L.diff(expected, got, where, context)
  context = context or 2
  local t = lcs(expected, got)
  local ops = {} -- {op=" "|"-"|"+", text=, ei=}
  local i, j = 0, 0
  while i < #expected or j < #got do
    if i < #expected and j < #got and expected[i + 1] == got[j + 1] then
      ops[#ops + 1] = { op = " ", text = expected[i + 1], ei = i + 1 }
      i, j = i + 1, j + 1
    elseif j < #got and (i == #expected or t[i][j + 1] > t[i + 1][j]) then
      ops[#ops + 1] = { op = "+", text = got[j + 1], ei = i + 1 }
      j = j + 1
    else
      ops[#ops + 1] = { op = "-", text = expected[i + 1], ei = i + 1 }
      i = i + 1
    end
  end
  local show = {}
  for k, o in ipairs(ops) do
    if o.op ~= " " then
      for c = math.max(1, k - context), math.min(#ops, k + context) do show[c] = true end
    end
  end
  local out, k = {}, 1
  while k <= #ops do
    if show[k] then
      local first = ops[k]
      out[#out + 1] = ("@@ %s @@"):format(where(math.min(first.ei, math.max(#expected, 1))))
      while k <= #ops and show[k] do
        out[#out + 1] = ops[k].op .. ops[k].text
        k = k + 1
      end
    else
      k = k + 1
    end
  end
  -- Lines that differ only in tabs versus spaces look alike: say so.
  for _, o in ipairs(ops) do
    if o.op == "-" then
      for _, p in ipairs(ops) do
        if p.op == "+" and p.text ~= o.text and p.text:gsub("\t", " ") == o.text:gsub("\t", " ") then
          out[#out + 1] = "(note: some lines differ only in tabs versus spaces; print() separates values with a tab)"
          return table.concat(out, "\n")
        end
      end
    end
  end
  return table.concat(out, "\n")
end

return L
