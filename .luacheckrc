-- luacheck configuration: `luacheck lua scripts tests bench` runs in make test.
std = "lua54"
max_line_length = false
exclude_files = { "tests/fixtures/**", "build/**" }
files["tests"] = { std = "+busted" }
