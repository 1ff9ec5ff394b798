-- gallery_spec.lua - docs/gallery.md stays generated: the committed page is
-- exactly what lua/maskinfo/cli/gallery.lua writes (`make gallery`), it has
-- a section for every built-in recipe, and every picture it shows exists.
-- Rendering the pictures is left out (it takes seconds); their names are
-- checked.

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

  it("shows pictures that exist, one per recipe", function()
    local pictures = {}
    for path in text:gmatch("!%[[^%]]*%]%(([^)]+)%)") do
      pictures[#pictures + 1] = path
      assert(P.exists(P.ROOT .. "/docs/" .. path), PAGE .. " shows " .. path .. ", which does not exist")
    end
    assert.are.equal(#R.list(), #pictures)
    for i, n in ipairs(R.list()) do
      assert.are.equal(gallery.DIR .. "/" .. n .. ".png", pictures[i])
    end
  end)
end)
