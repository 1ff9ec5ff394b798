--- Reading NumPy .npy files: `load_npy` (an Array) and `from_npy` (a
-- MaskInfo, as `from_attention_mask` makes one).  The core reads format
-- versions 1.0, 2.0 and 3.0 (core/src/npy_read.c); a malformed file
-- raises with the reason, while a file that cannot be read and an array
-- the memory guard refuses return nil, message, status like `io.open`.
-- @module maskinfo.npy

local core = require("maskinfo.core")
local E = require("maskinfo.errors")
local args = require("maskinfo.args")
local G = require("maskinfo.guard")
local K = require("maskinfo.constructors")

local N = {}
--- The public functions of this module (copied into `maskinfo`).
N.api = {}

-- Statuses that describe the file's content (raised) rather than a
-- failure to read it or a refusal (returned).
local MALFORMED = { EINVAL = true, EDTYPE = true, ESHAPE = true, EOVERFLOW = true }

local function load(fname, path)
  path = args.path_arg(fname, 1, path)
  local a, msg, status = core.read_npy(path)
  if a then return a end
  if MALFORMED[status] then E.fail(fname, ("'%s': %s"):format(path, msg)) end
  if status == "ETOOBIG" then
    msg = ("'%s': %s (limit %s, see maskinfo.set_memory_limit)"):format(path, msg, G.human(G.get_memory_limit()))
  end
  return nil, ("%s: %s"):format(fname, msg), status
end

--- Read a .npy file into an Array (bool, uint8, int32, int64, float16,
-- float32; float64 is read as float32, the nearest value).  Fortran order,
-- object and structured arrays, other dtypes, truncated files and data
-- whose size disagrees with the shape raise, saying which.
-- @treturn Array|nil the array, or nil, message, status ("EIO", "ETOOBIG")
function N.api.load_npy(path)
  return load("load_npy", path)
end

--- A MaskInfo from a .npy attention mask (2-D padding, 3-D or 4-D
-- pairwise), as `from_attention_mask(load_npy(path), opts)`.
-- @tparam[opt] table opts the options of from_attention_mask
function N.api.from_npy(path, opts)
  local a, msg, status = load("from_npy", path)
  if not a then return nil, msg, status end
  return K.api.from_attention_mask(a, opts)
end

return N
