-- gallery_spec.lua - docs/gallery.md stays generated: the committed page is
-- exactly what lua/maskinfo/cli/gallery.lua writes (`make gallery`), it has
-- a section for every built-in recipe, and every picture it shows exists.
-- Rendering the pictures is left out (the 128k ones take half a minute);
-- their names and the params of the 128k pictures are checked.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests"
local P = dofile(here .. "/helpers/proc.lua")
local D = dofile(here .. "/helpers/doctest.lua")

local gallery = require("maskinfo.cli.gallery")
local R = require("maskinfo.recipes")

local PAGE = "docs/gallery.md"
local text = assert(P.read_file(P.ROOT .. "/" .. PAGE), "cannot read " .. PAGE)

describe("the gallery page", function()
  it("is what `make gallery` would write", function()
    local want = D.split_lines(gallery.page())
    local got = D.split_lines(text)
    local diff = D.diff(want, got, function(i) return PAGE .. ":" .. i end)
    if diff ~= "" then
      error(PAGE .. " is not what the generator writes (run `make gallery`; - generator, + committed):\n" .. diff, 0)
    end
  end)

  it("has a section for every built-in recipe, in order, and no other", function()
    local sections = {}
    for _, l in ipairs(D.prose_lines(text)) do
      local name = l.text:match("^## (%S+)$")
      if name then sections[#sections + 1] = name end
    end
    assert.are.same(R.list(), sections)
  end)

  it("shows pictures that exist: each recipe at its defaults and at 128k, then the extra figures", function()
    local pictures = {}
    for path in text:gmatch("!%[[^%]]*%]%(([^)]+)%)") do
      pictures[#pictures + 1] = path
      assert(P.exists(P.ROOT .. "/docs/" .. path), PAGE .. " shows " .. path .. ", which does not exist")
    end
    local want = {}
    for _, n in ipairs(R.list()) do
      want[#want + 1] = gallery.DIR .. "/" .. n .. ".png"
      want[#want + 1] = gallery.DIR .. "/" .. n .. "-128k.png"
    end
    for _, x in ipairs(gallery.EXTRAS) do want[#want + 1] = gallery.DIR .. "/" .. x.name .. ".png" end
    assert.are.same(want, pictures)
    for _, x in ipairs(gallery.EXTRAS) do
      local svg = gallery.DIR .. "/" .. x.name .. ".svg"
      assert.truthy(text:find("(" .. svg .. ")", 1, true), svg)
      assert.are.equal("<?xml", (P.read_file(P.ROOT .. "/docs/" .. svg) or ""):sub(1, 5), svg)
    end
  end)

  it("draws every 128k picture at 131072 tokens or says why not", function()
    for _, n in ipairs(R.list()) do
      local r = assert(R.load(n))
      local p = gallery.long_params(r)
      local section = text:match("\n## " .. n .. "\n(.-)\n## ")
      assert.truthy(section, n)
      -- at 131072 tokens, or other params and the reason after "; "
      local at = section:find("At 128k tokens (`len = 131072`", 1, true)
      local other = section:find("Long %(`len = " .. p.len .. "`[^\n]*panels%); %S", 1)
      assert.truthy(at or other, n)
    end
  end)
end)
